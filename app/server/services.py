"""The pipeline's long-lived parts, started and stopped together: the evaluation workers,
the Graphviz layout helpers, the answer cache, the store of pending extras and the kept
graphs that other views are drawn from.

The server's lifespan (`app.main`) and the local client (`app.client`) both run them through
`running`, so a program drawn in a notebook goes through the same walled processes, under
the same limits, as one posted to the API.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from app.contract.settings import Settings
from app.server.cache import ResponseCache
from app.server.extras import ExtrasStore
from app.server.layout import LayoutService
from app.server.shapes import ShapeStore
from app.server.wall import LAYERS
from app.server.workers import EvaluationPool


@dataclass(frozen=True)
class Services:
    """What answering a program needs, once started. `wall`: each layer of the kernel's
    wall around the job processes, "present" or why not."""

    settings: Settings
    pool: EvaluationPool
    layout: LayoutService
    cache: ResponseCache
    extras: ExtrasStore
    shapes: ShapeStore
    wall: dict[str, str]


def wall_layers(pool: EvaluationPool, layout: LayoutService) -> dict[str, str]:
    """Each layer of the kernel's wall: "present" when every kind of job process has it,
    else why one has not."""
    states = {}
    pools = (pool.processes, layout.processes)
    for layer in LAYERS:
        missing = [
            f"{processes.role.name}: {processes.layers.get(layer, 'missing: not reported')}"
            for processes in pools
            if processes.layers.get(layer) != "present"
        ]
        states[layer] = "; ".join(missing) if missing else "present"
    return states


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Services]:
    """The services, ready once the first job processes have warmed up; stopped on exit,
    whether the body raised or not."""
    pool = EvaluationPool(settings)
    layout = LayoutService(
        settings.layout_helpers,
        settings.layout_memory_mb,
        timeout_s=settings.render_timeout_s,
        drawings=ResponseCache(
            settings.drawing_cache_entries, settings.drawing_cache_mb * 1024 * 1024
        ),
        max_svg_bytes=settings.max_answer_bytes,
    )
    extras = ExtrasStore(
        settings.extras_entries, settings.extras_mb * 1024 * 1024, settings.extras_ttl_s
    )
    pools = (pool.processes, layout.processes)
    # Each pool's thread spawns its zygote and waits for it to warm up (seconds, for torch);
    # the event loop awaits threads that wait, and is never blocked by a pool.
    for processes in pools:
        processes.start(asyncio.get_running_loop())
    try:
        for processes in pools:
            await anyio.to_thread.run_sync(processes.wait_ready)
        yield Services(
            settings,
            pool,
            layout,
            ResponseCache(settings.cache_entries, settings.cache_mb * 1024 * 1024),
            extras,
            ShapeStore(
                settings.shape_entries,
                settings.shape_items,
                ResponseCache(settings.view_entries, settings.view_mb * 1024 * 1024),
            ),
            wall_layers(pool, layout),
        )
    finally:
        extras.close()
        await pool.stop()
        await anyio.to_thread.run_sync(layout.processes.stop)
