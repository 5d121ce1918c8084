"""POST /api/graph: the whole pipeline for one program."""

import asyncio
from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Response

from app.cache import cache_key
from app.deps import CacheDep, LayoutDep, PoolDep, SettingsDep
from app.layout import LayoutService, Rendered
from app.render import build_dot
from app.schemas import GraphData, GraphRequest, GraphResponse, GraphShape, Problem
from app.workers import WorkerPool

router = APIRouter(prefix="/api", tags=["graph"])

PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {
        "model": Problem,
        "content": {"application/problem+json": {}},
        "description": description,
    }
    for status, description in {
        413: "The request body is too large.",
        422: "The program was refused or failed; `line` and `column` point into it.",
        503: "Every worker is busy; retry after the Retry-After header.",
    }.items()
}


@router.post("/graph", response_model=GraphResponse, responses=PROBLEMS)
async def graph(
    request: GraphRequest,
    pool: PoolDep,
    layout: LayoutDep,
    cache: CacheDep,
    settings: SettingsDep,
) -> Response:
    """Run the program, walk its autograd graph, backpropagate, and draw it."""
    key = cache_key(request)
    body = cache.get(key)
    if body is None:
        body = await answer(request, pool, layout, settings.render_timeout_s)
        cache.put(key, body)
    return Response(body, media_type="application/json")


async def answer(
    request: GraphRequest, pool: WorkerPool, layout: LayoutService, timeout_s: float
) -> bytes:
    """The response body. The graph is drawn while the worker computes the teaching fields:
    the layout helper and the worker each have a core."""
    drawing: asyncio.Future[Drawn] | None = None

    def draw_soon(shape: GraphShape) -> None:
        nonlocal drawing
        drawing = asyncio.ensure_future(anyio.to_thread.run_sync(draw, shape, layout, timeout_s))

    try:
        data = await pool.run(request, draw_soon)
    finally:
        if drawing is not None and not drawing.done():
            # On an error the drawing is not wanted, but the helper finishes it all the same.
            await asyncio.wait([drawing])
    assert drawing is not None  # a graph always comes with its shape first
    return response_body(data, await drawing)


@dataclass(frozen=True)
class Drawn:
    dot: str
    rendered: Rendered


def draw(shape: GraphShape, layout: LayoutService, timeout_s: float) -> Drawn:
    dot = build_dot(shape)
    return Drawn(dot, layout.render(dot, timeout_s))


def response_body(data: GraphData, drawn: Drawn) -> bytes:
    """The JSON answer. `data` was validated when it left the worker; it is not again."""
    warnings = data.warnings + ([drawn.rendered.warning] if drawn.rendered.warning else [])
    fields = {name: getattr(data, name) for name in GraphData.model_fields}
    response = GraphResponse.model_construct(
        **{**fields, "warnings": warnings}, dot=drawn.dot, svg=drawn.rendered.svg
    )
    return response.model_dump_json().encode()
