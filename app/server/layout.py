"""Graphviz layouts in walled processes, under a time limit.

Starting `dot` for each drawing means loading its plugins and fonts, which costs more than
laying out a seed-sized graph (docs/performance.md). A zygote loads libgvc once
(`app.worker.graphviz`) and forks, ahead of time, one layout process per layout
(`app.server.pool`), walled like an evaluation (`app.server.wall`): the DOT comes from a
user's program, and Graphviz's parser and layouts are C. The drawing of a program's answer is
laid out first by the job process that evaluated it, which has libgvc loaded too and is
walled the same way; other views and fallbacks go to the layout processes. A layout can still
run away (one node shared by every step of a loop can make `dot` take minutes), so the server
waits at most the time limit, kills the process and tries the next, cheaper engine in
another; when every engine ran out of time there is no SVG.
"""

import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from app.server.cache import ResponseCache
from app.server.large_json import in_turn
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
# Lays out `engine` newline DOT within a timeout elsewhere than in a layout process: the
# reply as a layout process gives it, or None if it did not come in time.
LayOut = Callable[[bytes, float], Awaitable[bytes | None]]


@dataclass(frozen=True)
class LayoutResult:
    """What Graphviz made of a DOT source: its SVG, or None and why in `warning`."""

    svg: str | None
    warning: str | None = None


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
        max_svg_bytes: int | None = None,
    ) -> None:
        self.engines = engines
        # An SVG goes into an answer beside the graph the job made, which the job holds to
        # max_answer_bytes: a drawing larger than that is not sent (a 100-character loop
        # draws megabytes), and the answer says so.
        self.max_svg_bytes = max_svg_bytes
        # A drawing is a function of its DOT alone: kept by it, apart from the answers (which
        # are kept by the request), and only when the first engine drew it, as a fallback's
        # drawing depends on how busy the machine was, in a layout process (see `render`).
        self.drawings = drawings or ResponseCache(0, 0)
        role = Role("layout", "app.worker.graphviz:prepare_layout", "", memory_mb, timeout_s)
        # `helpers` sizes the spares; a layout never waits for another to end, only for a
        # warm process: a runaway layout holds its process until its time is up, not the rest.
        self.processes = ProcessPool(role, helpers, limit=False)
        # Told each drawing's engine ("none" when there is no SVG) and time (the app's metrics).
        self.on_drawn: Callable[[str, float], None] = lambda engine, seconds: None

    async def render(self, dot: str, timeout_s: float, first: LayOut | None = None) -> LayoutResult:
        """SVG from the first engine that finishes within its share of `timeout_s`; laid out
        by `first` for the first engine when given, else in layout processes."""
        started = time.monotonic()
        source = dot.encode()
        key = await _off_loop_if_large(len(source), lambda: hashlib.sha256(source).hexdigest())
        kept = self.drawings.get(key)
        if kept is not None:
            self.on_drawn("cached", time.monotonic() - started)
            return LayoutResult(kept.decode())
        result, engine = await self._render(dot, source, timeout_s, first)
        self.on_drawn(engine, time.monotonic() - started)
        size = len(result.svg or "")
        if self.max_svg_bytes is not None and size > self.max_svg_bytes:
            megabytes = size / (1024 * 1024)
            return LayoutResult(
                None,
                f"The drawing is {megabytes:.0f} MB of SVG, more than an answer may carry "
                f"({self.max_svg_bytes / (1024 * 1024):.0f} MB): collapse module calls, or "
                "draw fewer steps; the graph and its gradients are all in the answer.",
            )
        # Kept for every request with this DOT only when a layout process drew it: a job
        # process ran a user's program, and one that the program took over could answer any
        # DOT, its own program's included, with an SVG of its choosing.
        if first is None and result.svg is not None and result.warning is None:
            self.drawings.put(key, result.svg.encode())
        return result

    async def _render(
        self, dot: str, source: bytes, timeout_s: float, first: LayOut | None
    ) -> tuple[LayoutResult, str]:
        """What `render` returns, and the engine that drew it ("none")."""
        deadline = time.monotonic() + timeout_s
        failure = None
        engines = self._engines(dot)
        for engine, share in engines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            lay_out, first = first or self._layout, None
            reply = await lay_out(
                engine.encode() + b"\n" + source, min(remaining, timeout_s * share)
            )
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

    async def _layout(self, job: bytes, timeout: float) -> bytes | None:
        """One layout (`engine` newline DOT) in a process of its own; None if it ran out of
        time or died."""
        process = await self.processes.take_async(timeout)
        if process is None:
            return None  # no process in time: as if the layout had run out of it
        deadline = time.monotonic() + timeout
        reply = None
        try:
            if await process.send_async(job, deadline - time.monotonic()):
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
        return await in_turn(work)
    return work()


def _fallback_warning(timeout_s: float) -> str:
    return (
        "The usual layout needed too long for this graph, so it was drawn with a quicker, "
        f"plainer one (within the {timeout_s:g} s limit)."
    )
