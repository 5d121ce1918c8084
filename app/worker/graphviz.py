"""Graphviz through libgvc, in a walled process: DOT in, SVG out.

The DOT comes from a user's program and Graphviz's parser and layouts are C, so a layout runs
only in a walled process that ends with its job (`app.server.wall`): the job process that
evaluated the program lays out its drawing (`app.worker.entry`), and layout processes
(`app.server.layout`) draw the other views and the fallbacks. Each loads libgvc once, in its
zygote, with only the plugins a layout needs. The layout pool's role names `prepare_layout`
here, and this module imports neither torch nor the rest of the worker, so a layout zygote
holds libgvc alone.
"""

import ctypes
import os
from collections.abc import Callable

# `core` renders SVG, `dot_layout` is `dot`, `neato_layout` has `sfdp` and `nop2`; demand loading of
# every installed plugin (pango's among them) is off.
PLUGINS = ("core", "dot_layout", "neato_layout")
WARM_UP = b"digraph { a [label=<<B>a</B>>]; a -> b [label=x] }"
# Graphviz writes the family its metrics come from; the drawing names Liberation Sans, the
# metric twin of Helvetica that the page serves (static/vendor/fonts/), then the same metrics
# under other names, so the text fits its boxes wherever the SVG is opened. An exported SVG
# names the fonts rather than embedding them: it stays a few kilobytes of editable text, and
# every desktop has one of these (Arial, Helvetica, Liberation Sans or Arimo).
GRAPHVIZ_FAMILY = b'font-family="Helvetica,sans-Serif"'
DRAWN_FAMILY = b"font-family=\"'Liberation Sans',Arimo,Helvetica,Arial,sans-serif\""


class LayoutFailed(Exception):  # noqa: N818 - an outcome reported to the user, not a bug
    """Graphviz refused the DOT or could not lay it out."""


class PluginSymbol(ctypes.Structure):
    """libltdl's `lt_symlist_t`: how libgvc is handed plugins linked in rather than found."""

    _fields_ = (("name", ctypes.c_char_p), ("address", ctypes.c_void_p))


class Graphviz:
    """The few libgvc calls a layout needs: read DOT, lay out, render SVG, free.

    The context gets only the plugins a layout needs (`PLUGINS`), not pango's text layout:
    Graphviz then sizes text from its built-in Helvetica metrics instead of asking pango, which
    halved the layout time of every seed-sized graph, and lays a graph out the same whatever
    fonts the server has. The SVG then names Liberation Sans, a metric twin of Helvetica that
    the page serves, so the text fits its boxes whatever fonts the viewer has (`DRAWN_FAMILY`).
    """

    def __init__(self) -> None:
        gvc = ctypes.CDLL("libgvc.so.6")
        cgraph = ctypes.CDLL("libcgraph.so.6")
        pointer = ctypes.c_void_p
        gvc.gvContextPlugins.restype = pointer
        gvc.gvContextPlugins.argtypes = [pointer, ctypes.c_int]
        cgraph.agmemread.restype = pointer
        cgraph.agmemread.argtypes = [ctypes.c_char_p]
        cgraph.agclose.argtypes = [pointer]
        gvc.gvLayout.argtypes = [pointer, pointer, ctypes.c_char_p]
        gvc.gvRenderData.argtypes = [
            pointer,
            pointer,
            ctypes.c_char_p,
            ctypes.POINTER(pointer),
            ctypes.POINTER(ctypes.c_uint),
        ]
        gvc.gvFreeRenderData.argtypes = [pointer]
        gvc.gvFreeLayout.argtypes = [pointer, pointer]
        self.gvc, self.cgraph = gvc, cgraph
        directory = _plugin_directory(gvc)
        self.plugins = [ctypes.CDLL(f"{directory}/libgvplugin_{name}.so.6") for name in PLUGINS]
        symbols = (PluginSymbol * (len(PLUGINS) + 1))()  # ends with a zeroed entry
        for entry, name, library in zip(symbols, PLUGINS, self.plugins, strict=False):
            symbol = f"gvplugin_{name}_LTX_library"
            entry.name = symbol.encode()
            entry.address = ctypes.addressof(ctypes.c_char.in_dll(library, symbol))
        self.symbols = symbols  # libgvc keeps pointers into it
        self.context = gvc.gvContextPlugins(ctypes.addressof(symbols), 0)

    def svg(self, dot: bytes, engine: str) -> bytes:
        graph = self.cgraph.agmemread(dot)
        if not graph:
            raise LayoutFailed("Graphviz could not read the graph")
        try:
            if self.gvc.gvLayout(self.context, graph, engine.encode()) != 0:
                raise LayoutFailed(f"Graphviz '{engine}' could not lay out the graph")
            data, length = ctypes.c_void_p(), ctypes.c_uint()
            status = self.gvc.gvRenderData(
                self.context, graph, b"svg", ctypes.byref(data), ctypes.byref(length)
            )
            try:
                if status != 0:
                    raise LayoutFailed("Graphviz could not render SVG")
                return ctypes.string_at(data, length.value)
            finally:
                self.gvc.gvFreeRenderData(data)
                self.gvc.gvFreeLayout(self.context, graph)
        finally:
            self.cgraph.agclose(graph)


class SymbolInfo(ctypes.Structure):
    """glibc's `Dl_info`, filled by `dladdr`."""

    _fields_ = (
        ("file", ctypes.c_char_p),
        ("base", ctypes.c_void_p),
        ("symbol", ctypes.c_char_p),
        ("address", ctypes.c_void_p),
    )


def _plugin_directory(gvc: ctypes.CDLL) -> str:
    """Where the installed libgvc keeps its plugins: `graphviz/` beside the library (the
    directory name carries the machine's multiarch triplet, so it is looked up, not typed)."""
    info = SymbolInfo()
    if not ctypes.CDLL(None).dladdr(
        ctypes.cast(gvc.gvContextPlugins, ctypes.c_void_p), ctypes.byref(info)
    ):
        raise OSError("cannot find where libgvc is installed")
    return os.path.join(os.path.dirname(os.fsdecode(info.file)), "graphviz")


def load_graphviz() -> Graphviz | None:
    """libgvc loaded and warmed (its plugins and fonts), or None if it is not installed."""
    try:
        graphviz = Graphviz()
    except OSError:
        return None
    graphviz.svg(WARM_UP, "dot")
    return graphviz


def lay_out(graphviz: Graphviz | None, job: bytes) -> bytes:
    """A layout job, `engine` newline DOT, done: `svg` newline the SVG, or `error` newline
    why. Never raises."""
    engine, _, dot = job.partition(b"\n")
    if graphviz is None:
        return b"error\nGraphviz (libgvc) is not installed on the server."
    try:
        svg = graphviz.svg(dot, engine.decode(errors="replace"))
        return b"svg\n" + svg.replace(GRAPHVIZ_FAMILY, DRAWN_FAMILY)
    except LayoutFailed as error:
        return b"error\n" + str(error).encode()
    except Exception as error:
        return f"error\nGraphviz failed ({type(error).__name__})".encode()


def prepare_layout(_: str) -> "LayoutRunner":
    """In the layout pool's zygote: load libgvc and lay out a graph, once for every layout
    process it forks."""
    return LayoutRunner(load_graphviz())


class LayoutRunner:
    """Lays out one job in a layout process (`lay_out`)."""

    def __init__(self, graphviz: Graphviz | None) -> None:
        self.graphviz = graphviz

    def warm(self) -> None:
        """Nothing: a layout touches little of the zygote's memory, and less CPU in all
        counts more than the copy-on-write faults of a millisecond's layout."""

    def run(self, job: bytes, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> bytes:
        return lay_out(self.graphviz, job)
