"""The app factory and `app.main:app` for uvicorn."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.cache import ResponseCache
from app.layout import LayoutService
from app.problems import install_problem_handlers
from app.routes import export, graph, health, pages
from app.security import install_security
from app.settings import Settings
from app.workers import WorkerPool

STATIC = Path(__file__).resolve().parents[1] / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(settings)
        app.state.pool = pool
        layout = LayoutService(settings.layout_helpers, settings.layout_memory_mb)
        app.state.layout = layout
        app.state.cache = ResponseCache(settings.cache_entries, settings.cache_mb * 1024 * 1024)
        layout.start()
        await pool.start()
        await pool.wait_ready()  # serve only once every worker has imported torch
        try:
            yield
        finally:
            await pool.stop()
            layout.stop()

    app = FastAPI(
        title="Autograd graph explorer",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    install_security(app, settings)
    app.include_router(graph.router)
    app.include_router(export.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


app = create_app()
