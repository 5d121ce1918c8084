"""POST /api/graph: the whole pipeline for one program."""

import asyncio
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Path, Request, Response

from app.cache import ResponseCache, cache_key
from app.deps import CacheDep, ExtrasDep, LayoutDep, PoolDep, SettingsDep
from app.extras import ExtrasStore
from app.layout import LayoutService, Rendered
from app.observe import note_program
from app.render import build_dot, layers
from app.schemas import (
    GraphData,
    GraphExtras,
    GraphRequest,
    GraphResponse,
    GraphShape,
    Problem,
)
from app.workers import Evaluated

router = APIRouter(prefix="/api", tags=["graph"])
# A large answer is serialised in a thread, so that other requests do not wait on the event
# loop; a seed-sized one costs less than the hop to a thread.
INLINE_ANSWER_NODES = 150
INLINE_STDOUT_CHARS = 16_000
EXTRAS_PATH = "/api/graph/extras/"
EXTRAS_TOKEN = "X-Extras-Token"  # noqa: S105 - a header name; deploy/haproxy.cfg routes the fetch of extras by it
# Answers whose extras are still to come, each waiting to keep them (see _keep_extras).
FOLLOW_UPS: set["asyncio.Task[None]"] = set()

PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {
        "model": Problem,
        "content": {"application/problem+json": {}},
        "description": description,
    }
    for status, description in {
        413: "The request body is too large.",
        429: "This client sent too many requests; retry after the Retry-After header.",
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
    extras: ExtrasDep,
    settings: SettingsDep,
    http: Request,
) -> Response:
    """Run the program, walk its autograd graph, backpropagate, and draw it.

    The answer comes as soon as the graph is drawn: the gradient check, whose cost is not
    bounded by the graph's size, is `pending`, to be fetched from `extras`, unless the
    request's `include` asks for it in this answer. An answer served from the cache has
    everything."""
    note_program(http, request.code, settings.access_log_program)
    key = cache_key(request)
    body = cache.get(key)
    if body is not None:
        return Response(body, media_type="application/json")
    # The graph is drawn while the job process computes the teaching fields.
    evaluated = await pool.run(
        request, lambda shape: draw(shape, layout, settings.render_timeout_s)
    )
    if "gradcheck" in request.include:
        done = await evaluated.extras
        body = await response_body(evaluated.data.with_extras(done.value), evaluated.made)
        if done.complete:
            cache.put(key, body)
        return Response(body, media_type="application/json")
    token = extras.open()
    body = await response_body(
        evaluated.data, evaluated.made, pending=["gradcheck"], extras=EXTRAS_PATH + token
    )
    follow_up = asyncio.ensure_future(_keep_extras(evaluated, token, key, extras, cache))
    FOLLOW_UPS.add(follow_up)
    follow_up.add_done_callback(FOLLOW_UPS.discard)
    # This replica alone holds them: a proxy in front of several sends the fetch here by it.
    return Response(body, media_type="application/json", headers={EXTRAS_TOKEN: token})


@router.get(
    "/graph/extras/{token}",
    response_model=GraphExtras,
    responses={
        404: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": "No such token, or its extras expired.",
        },
        422: PROBLEMS[422] | {"description": "The token is not a token (too long)."},
        503: PROBLEMS[503] | {"description": "The extras are still being computed; retry."},
    },
)
async def graph_extras(
    token: Annotated[str, Path(max_length=100)], extras: ExtrasDep, settings: SettingsDep
) -> Response:
    """The fields an answer of POST /api/graph left `pending`, by the token in its `extras`;
    waits up to the job's time limit for them. They are kept for `extras_ttl_s`."""
    try:
        body = await extras.get(token, settings.job_timeout_s)
    except TimeoutError:
        raise HTTPException(
            503, "the gradient check is still being computed", headers={"Retry-After": "1"}
        ) from None
    if body is None:
        raise HTTPException(404, "no such extras: the token is unknown or has expired")
    return Response(body, media_type="application/json")


async def _keep_extras(
    evaluated: "Evaluated[Drawn]", token: str, key: str, extras: ExtrasStore, cache: ResponseCache
) -> None:
    """Once the job's extras come: kept for their token, and the whole answer cached."""
    try:
        done = await evaluated.extras
    except asyncio.CancelledError:
        extras.close(token)
        raise
    extras.fill(token, done.value.model_dump_json().encode())
    if done.complete:
        data = evaluated.data.with_extras(done.value)
        cache.put(key, await response_body(data, evaluated.made))


@dataclass(frozen=True)
class Drawn:
    """A graph's DOT source and what Graphviz made of it (SVG, or a warning)."""

    dot: str
    rendered: Rendered


def draw(shape: GraphShape, layout: LayoutService, timeout_s: float) -> Drawn:
    """Stage 4 for one graph; blocks, so it runs in the job's thread (see WorkerPool.run)."""
    dot = build_dot(shape)
    return Drawn(dot, layout.render(dot, timeout_s))


async def response_body(data: GraphData, drawn: Drawn, **fields: object) -> bytes:
    """The JSON answer, with `fields` of GraphResponse beyond the data (`pending`,
    `extras`); a large one written in a thread."""
    if (
        len(data.nodes) > INLINE_ANSWER_NODES
        or len(data.variables) > INLINE_ANSWER_NODES
        or len(data.stdout) > INLINE_STDOUT_CHARS
    ):
        return await anyio.to_thread.run_sync(lambda: _body(data, drawn, fields))
    return _body(data, drawn, fields)


def _body(data: GraphData, drawn: Drawn, fields: dict[str, object]) -> bytes:
    """`data` was validated when it left the worker; it is not again."""
    warnings = data.warnings + ([drawn.rendered.warning] if drawn.rendered.warning else [])
    values = {name: getattr(data, name) for name in GraphData.model_fields}
    response = GraphResponse.model_construct(
        **{**values, "warnings": warnings, **fields},
        dot=drawn.dot,
        svg=drawn.rendered.svg,
        layers=layers(data),
    )
    return response.model_dump_json().encode()
