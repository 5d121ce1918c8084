"""Graphviz layout in walled helper processes, through libgvc, under a time limit.

Starting `dot` for each drawing means loading its plugins and fonts, which costs more than
laying out a seed-sized graph (docs/performance.md). A zygote loads libgvc once and forks,
ahead of time, one helper process per layout (`app.server.pool`), walled like an evaluation
(`app.server.wall`): the DOT comes from a user's program, and Graphviz's parser and layouts are C.
A layout can still run away (one node shared by every step of a loop can make `dot` take
minutes), so the server waits at most the time limit, kills the helper and tries the next,
cheaper engine in another; when every engine ran out of time there is no SVG.
"""

import ctypes
import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from app.server.cache import ResponseCache
from app.server.pool import ProcessPool, Role

log = logging.getLogger(__name__)
# Engines tried in turn, with the share of the time limit each may use. `sfdp` is
# near-linear in the graph's size where `dot` can be super-linear. A DOT whose boxes carry
# positions (app/server/placement.py) falls back to `nop2`, which draws them where they are, and
# one that names `nop2` as its layout goes straight to it.
ENGINES = (("dot", 0.7), ("sfdp", 1.0))
PLACED_ENGINES = (("dot", 0.7), ("nop2", 1.0))
PLACED_ONLY = (("nop2", 1.0),)
# A DOT or an SVG larger than this is hashed or decoded in a thread, off the event loop.
LARGE_BYTES = 256 * 1024
T = TypeVar("T")
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


@dataclass(frozen=True)
class LayoutResult:
    """What Graphviz made of a DOT source: its SVG, or None and why in `warning`."""

    svg: str | None
    warning: str | None = None


class LayoutFailed(Exception):  # noqa: N818 - an outcome reported to the user, not a bug
    """Graphviz refused the DOT or could not lay it out."""


# Inside the helper -----------------------------------------------------------------------


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


def prepare_helper(_: str) -> "Helper":
    """In the zygote: load libgvc and lay out a graph, once for every helper it forks."""
    helper = Helper()
    if helper.graphviz is not None:
        helper.graphviz.svg(WARM_UP, "dot")  # loads plugins and fonts before the first job
    return helper


class Helper:
    """Lays out one job in a helper process: `engine` newline DOT, to `svg` or `error`."""

    def __init__(self) -> None:
        self.graphviz: Graphviz | None = None
        try:
            self.graphviz = Graphviz()
        except OSError:
            self.graphviz = None

    def warm(self) -> None:
        """Nothing: a layout touches little of the zygote's memory, and less CPU in all
        counts more than the copy-on-write faults of a millisecond's layout."""

    def run(self, job: bytes, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> bytes:
        engine, _, dot = job.partition(b"\n")
        if self.graphviz is None:
            return b"error\nGraphviz (libgvc) is not installed on the server."
        try:
            svg = self.graphviz.svg(dot, engine.decode(errors="replace"))
            return b"svg\n" + svg.replace(GRAPHVIZ_FAMILY, DRAWN_FAMILY)
        except LayoutFailed as error:
            return b"error\n" + str(error).encode()
        except Exception as error:
            return f"error\nGraphviz failed ({type(error).__name__})".encode()


# In the server ---------------------------------------------------------------------------


class LayoutService:
    """Drawings, each laid out in a layout process of its own (`app.server.pool.ProcessPool`),
    by the first engine that finishes in time; `render` waits on the event loop without
    blocking it."""

    def __init__(
        self,
        helpers: int,
        memory_mb: int,
        engines: tuple[tuple[str, float], ...] = ENGINES,
        timeout_s: float = 5.0,
        drawings: ResponseCache | None = None,
    ) -> None:
        self.engines = engines
        # A drawing is a function of its DOT alone: kept by it, apart from the answers (which
        # are kept by the request), and only when the first engine drew it, as a fallback's
        # drawing depends on how busy the machine was.
        self.drawings = drawings or ResponseCache(0, 0)
        role = Role("layout", "app.server.layout:prepare_helper", "", memory_mb, timeout_s)
        # `helpers` sizes the spares; a layout never waits for another to end, only for a
        # warm process: a runaway layout holds its process until its time is up, not the rest.
        self.processes = ProcessPool(role, helpers, limit=False)
        # Told each drawing's engine ("none" when there is no SVG) and time (the app's metrics).
        self.on_drawn: Callable[[str, float], None] = lambda engine, seconds: None

    async def render(self, dot: str, timeout_s: float) -> LayoutResult:
        """SVG from the first engine that finishes within its share of `timeout_s`."""
        started = time.monotonic()
        source = dot.encode()
        key = await _off_loop_if_large(len(source), lambda: hashlib.sha256(source).hexdigest())
        kept = self.drawings.get(key)
        if kept is not None:
            self.on_drawn("cached", time.monotonic() - started)
            return LayoutResult(kept.decode())
        result, engine = await self._render(dot, source, timeout_s)
        self.on_drawn(engine, time.monotonic() - started)
        if result.svg is not None and result.warning is None:
            self.drawings.put(key, result.svg.encode())
        return result

    async def _render(self, dot: str, source: bytes, timeout_s: float) -> tuple[LayoutResult, str]:
        """What `render` returns, and the engine that drew it ("none")."""
        deadline = time.monotonic() + timeout_s
        failure = None
        engines = self._engines(dot)
        for engine, share in engines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            reply = await self._layout(source, engine, min(remaining, timeout_s * share))
            if reply is None:
                log.warning("layout with %s ran out of time", engine)
                continue
            status, _, body = reply.partition(b"\n")
            if status == b"error":
                failure = body.decode(errors="replace")
                break
            svg = await _off_loop_if_large(len(body), functools.partial(_svg_text, body))
            warning = None if engine == engines[0][0] else _fallback_warning(timeout_s)
            return LayoutResult(svg, warning), engine
        if failure is not None:
            return LayoutResult(None, f"Graphviz could not draw this graph: {failure}"), "none"
        return LayoutResult(
            None,
            f"Graphviz needed more than {timeout_s:g} s to lay out this "
            "graph; the JSON still has every node and gradient.",
        ), "none"

    def _engines(self, dot: str) -> tuple[tuple[str, float], ...]:
        """The engines for this DOT: its graph attributes (the second line, as app/server/render.py
        writes it) say whether its boxes are placed already."""
        graph = dot.split("\n", 2)[1] if dot.count("\n", 0, 4096) >= 2 else ""
        if 'layout="nop2"' in graph:
            return PLACED_ONLY
        return PLACED_ENGINES if ' pos="' in dot else self.engines

    async def _layout(self, source: bytes, engine: str, timeout: float) -> bytes | None:
        """One layout in a process of its own; None if it ran out of time or died."""
        process = await self.processes.take_async(timeout)
        if process is None:
            return None  # no process in time: as if the layout had run out of it
        deadline = time.monotonic() + timeout
        reply = None
        try:
            message = engine.encode() + b"\n" + source
            if await process.send_async(message, deadline - time.monotonic()):
                reply = await process.receive_async(deadline - time.monotonic())
            return reply
        finally:
            if reply is None:
                process.ended = "timeout" if time.monotonic() >= deadline else "killed"
            self.processes.release(process)  # after the layout, so its successor does not compete


def _svg_text(body: bytes) -> str:
    """The SVG from `<svg` on: Graphviz writes an XML declaration and comments before it."""
    svg = body.decode(errors="replace")
    return svg[svg.index("<svg") :] if "<svg" in svg else svg


async def _off_loop_if_large(size: int, work: Callable[[], T]) -> T:
    """`work` on bytes of `size`: in a thread when they are many, so that hashing or decoding
    a huge drawing does not hold up the event loop; at once when few (the hop would cost
    more)."""
    if size > LARGE_BYTES:
        return await anyio.to_thread.run_sync(work)
    return work()


def _fallback_warning(timeout_s: float) -> str:
    return (
        "The usual layout needed too long for this graph, so it was drawn with a quicker, "
        f"plainer one (within the {timeout_s:g} s limit)."
    )
