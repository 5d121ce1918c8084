"""The app factory and `app.main:app` for uvicorn."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.cache import ResponseCache
from app.extras import ExtrasStore
from app.layout import LayoutService
from app.listening import (
    WeakWallError,
    check_http_limits,
    check_listening,
    install_listening_guard,
)
from app.metrics import Metrics
from app.observe import install_observe
from app.problems import install_problem_handlers
from app.ratelimit import install_rate_limit
from app.routes import export, graph, health, metrics, pages
from app.security import install_security
from app.settings import Settings
from app.wall import LAYERS
from app.workers import WorkerPool

STATIC = Path(__file__).resolve().parents[1] / "static"
log = logging.getLogger(__name__)


def wall_layers(pool: WorkerPool, layout: LayoutService) -> dict[str, str]:
    """Each layer of the kernel's wall: "present" when every kind of job process has it,
    else why one has not."""
    states = {}
    for layer in LAYERS:
        missing = [
            f"{name}: {found.get(layer, 'missing: not reported')}"
            for name, found in (("evaluation", pool.layers), ("layout", layout.layers))
            if found.get(layer) != "present"
        ]
        states[layer] = "; ".join(missing) if missing else "present"
    return states


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings."""
    settings = settings or Settings()
    instruments = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(settings)
        app.state.pool = pool
        layout = LayoutService(
            settings.layout_helpers,
            settings.layout_memory_mb,
            timeout_s=settings.render_timeout_s,
            drawings=ResponseCache(
                settings.drawing_cache_entries, settings.drawing_cache_mb * 1024 * 1024
            ),
        )
        app.state.layout = layout
        app.state.cache = ResponseCache(settings.cache_entries, settings.cache_mb * 1024 * 1024)
        pool.on_evaluated = lambda outcome, seconds: instruments.evaluations.labels(
            outcome
        ).observe(seconds)
        layout.on_drawn = lambda engine, seconds: instruments.layouts.labels(engine).observe(
            seconds
        )
        instruments.watch(pool, layout, app.state.cache)
        app.state.extras = ExtrasStore(
            settings.extras_entries, settings.extras_mb * 1024 * 1024, settings.extras_ttl_s
        )
        layout.start()
        await pool.start()
        try:
            # serve only once the first job processes have warmed up
            await pool.wait_ready()
            await anyio.to_thread.run_sync(layout.wait_ready)
            app.state.wall = wall_layers(pool, layout)
            check_listening(app.state.wall, settings.allow_weak_sandbox)
            check_http_limits()
        except (RuntimeError, WeakWallError):
            await pool.stop()
            await anyio.to_thread.run_sync(layout.stop)
            raise
        try:
            yield
        finally:
            await pool.stop()
            await anyio.to_thread.run_sync(layout.stop)

    app = FastAPI(
        title="Autograd graph explorer",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = instruments
    app.state.wall = {}
    install_problem_handlers(app)
    install_rate_limit(app, settings)
    install_security(app, settings)
    install_listening_guard(app, settings)
    routers = [graph.router, export.router, health.router, metrics.router, pages.router]
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_observe(app, settings, instruments, routers)
    return app


app = create_app()
