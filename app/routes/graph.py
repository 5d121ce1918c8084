"""POST /api/graph: the whole pipeline for one program."""

import anyio
from fastapi import APIRouter, Response

from app.cache import cache_key
from app.deps import CacheDep, LayoutDep, PoolDep, SettingsDep
from app.layout import LayoutService
from app.render import build_dot
from app.schemas import GraphData, GraphRequest, GraphResponse, Problem

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
        data = await pool.run(request)
        body = await anyio.to_thread.run_sync(draw, data, layout, settings.render_timeout_s)
        cache.put(key, body)
    return Response(body, media_type="application/json")


def draw(data: GraphData, layout: LayoutService, timeout_s: float) -> bytes:
    """The response body. `data` was validated when it left the worker; it is not again."""
    dot = build_dot(data)
    rendered = layout.render(dot, timeout_s)
    warnings = data.warnings + ([rendered.warning] if rendered.warning else [])
    fields = {name: getattr(data, name) for name in GraphData.model_fields}
    response = GraphResponse.model_construct(
        **{**fields, "warnings": warnings}, dot=dot, svg=rendered.svg
    )
    return response.model_dump_json().encode()
