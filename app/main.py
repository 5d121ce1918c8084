"""The app factory and `app.main:app` for uvicorn."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.contract.settings import Settings
from app.server.listening import (
    check_http_limits,
    check_listening,
    install_listening_guard,
)
from app.server.metrics import Metrics
from app.server.observe import install_observe
from app.server.problems import install_problem_handlers
from app.server.ratelimit import install_rate_limit
from app.server.routes import docs, export, graph, health, metrics, pages
from app.server.security import install_security
from app.server.services import running

STATIC = Path(__file__).resolve().parents[1] / "static"
log = logging.getLogger(__name__)
DESCRIPTION = """\
POST a PyTorch program to `/api/graph`: the server runs it in its sandbox, walks the autograd
graph of its output, backpropagates, and answers with every node's and edge's gradient and
the drawing (SVG and its Graphviz source).

Every error is `application/problem+json`; a program's problem has the `line` and `column`
it points at. From Python, `app.client.graph(code)` gives the same answer in a notebook, and
`agx draw prog.py -o graph.svg` on the command line.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own settings."""
    settings = settings or Settings()
    instruments = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # serve only once the first job processes have warmed up
        async with running(settings) as services:
            app.state.services = services
            app.state.wall = services.wall
            services.pool.on_evaluated = lambda outcome, seconds: instruments.evaluations.labels(
                outcome
            ).observe(seconds)
            services.layout.on_drawn = lambda engine, seconds: instruments.layouts.labels(
                engine
            ).observe(seconds)
            instruments.watch(services.pool, services.layout, services.cache)
            check_listening(services.wall, settings.allow_weak_sandbox)
            check_http_limits()
            yield

    app = FastAPI(
        title="Autograd graph explorer",
        version="0.1.0",
        description=DESCRIPTION,
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
    routers = [
        graph.router,
        export.router,
        health.router,
        metrics.router,
        pages.router,
        docs.router,
    ]
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_observe(app, settings, instruments, routers)
    return app


app = create_app()
