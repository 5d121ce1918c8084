"""POST /api/graph: the whole pipeline for one program."""

from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Response

from app.cache import cache_key
from app.deps import CacheDep, LayoutDep, PoolDep, SettingsDep
from app.layout import LayoutService, Rendered
from app.render import build_dot, layers
from app.schemas import GraphData, GraphRequest, GraphResponse, GraphShape, Problem

router = APIRouter(prefix="/api", tags=["graph"])
# A 3,000-node answer takes about 20 ms to serialise: in a thread, so that other requests do
# not wait on the event loop. A seed-sized one costs less than the hop to a thread.
INLINE_ANSWER_NODES = 150
INLINE_STDOUT_CHARS = 16_000

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
        # The graph is drawn while the worker computes the teaching fields.
        data, drawn = await pool.run(
            request, lambda shape: draw(shape, layout, settings.render_timeout_s)
        )
        if (
            len(data.nodes) > INLINE_ANSWER_NODES
            or len(data.variables) > INLINE_ANSWER_NODES
            or len(data.stdout) > INLINE_STDOUT_CHARS
        ):
            body = await anyio.to_thread.run_sync(response_body, data, drawn)
        else:
            body = response_body(data, drawn)
        cache.put(key, body)
    return Response(body, media_type="application/json")


@dataclass(frozen=True)
class Drawn:
    """A graph's DOT source and what Graphviz made of it (SVG, or a warning)."""

    dot: str
    rendered: Rendered


def draw(shape: GraphShape, layout: LayoutService, timeout_s: float) -> Drawn:
    """Stage 4 for one graph; blocks, so it runs in the job's thread (see WorkerPool.run)."""
    dot = build_dot(shape)
    return Drawn(dot, layout.render(dot, timeout_s))


def response_body(data: GraphData, drawn: Drawn) -> bytes:
    """The JSON answer. `data` was validated when it left the worker; it is not again."""
    warnings = data.warnings + ([drawn.rendered.warning] if drawn.rendered.warning else [])
    fields = {name: getattr(data, name) for name in GraphData.model_fields}
    response = GraphResponse.model_construct(
        **{**fields, "warnings": warnings},
        dot=drawn.dot,
        svg=drawn.rendered.svg,
        layers=layers(data),
    )
    return response.model_dump_json().encode()
