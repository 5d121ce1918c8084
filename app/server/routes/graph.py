"""POST /api/graph: the whole pipeline for one program."""

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Request, Response
from fastapi.openapi.models import Example

from app.contract.examples import EXAMPLES
from app.contract.graphs import layers
from app.contract.schemas import (
    GraphData,
    GraphDrawing,
    GraphExtras,
    GraphRequest,
    GraphResponse,
    GraphShape,
    GraphView,
    Problem,
    ViewRequest,
)
from app.server.cache import cache_key, shape_key
from app.server.deps import ExtrasDep, LayoutDep, ServicesDep, SettingsDep, ShapesDep
from app.server.large_json import in_turn
from app.server.layout import LayOut, LayoutResult, LayoutService
from app.server.observe import note_program
from app.server.render import build_dot
from app.server.services import Services
from app.server.views import apply_view, default_view
from app.server.workers import Evaluated, Extras, SaturatedError

router = APIRouter(prefix="/api", tags=["graph"])
# A large answer is serialised in a thread, so that other requests do not wait on the event
# loop; a seed-sized one costs less than the hop to a thread.
INLINE_ANSWER_NODES = 150
INLINE_STDOUT_CHARS = 16_000
EXTRAS_PATH = "/api/graph/extras/"
EXTRAS_TOKEN = "X-Extras-Token"  # noqa: S105 - a header name; deploy/haproxy.cfg routes the fetch of extras by it
SHAPE_TOKEN = "X-Shape-Token"  # noqa: S105 - the same for POST /api/graph/view and its `shape`
# An answer whose extras are still to come is kept under its key with this added, until
# the whole answer is.
PENDING_KEY = "+pending"
# Items (nodes, edges, groups and the numbers they hold: what app.server.shapes counts) of an
# answer whose graph waits with its pending extras: every seed and tutorial graph, a few
# hundred kB.
HELD_ITEMS = 20_000


def _problem(description: str) -> dict[str, object]:
    """An answer documented in OpenAPI as problem+json."""
    return {
        "model": Problem,
        "content": {"application/problem+json": {}},
        "description": description,
    }


PROBLEMS: dict[int | str, dict[str, object]] = {
    status: _problem(description)
    for status, description in {
        413: "The request body is too large.",
        429: "This client sent too many requests; retry after the Retry-After header.",
        422: "The program was refused or failed; `line` and `column` point into it.",
        503: "Every worker is busy; retry after the Retry-After header.",
    }.items()
}


def _request_examples(*ids: str) -> dict[str, Example]:
    """The page's examples (static/examples.json) by id, as request examples for /docs."""
    examples = {example["id"]: example for example in json.loads(EXAMPLES.read_text())}
    return {
        name: {"summary": examples[name]["title"], "value": {"code": examples[name]["code"]}}
        for name in ids
    }


# The seed's chain rule first: the example /docs fills in.
GraphRequestBody = Annotated[
    GraphRequest,
    Body(openapi_examples=_request_examples("chain-rule", "classifier-autograd", "mlp-class")),
]


@router.post("/graph", response_model=GraphResponse, responses=PROBLEMS)
async def graph(
    request: GraphRequestBody, services: ServicesDep, settings: SettingsDep, http: Request
) -> Response:
    """Run the program, walk its autograd graph, backpropagate, and draw it.

    The answer comes as soon as the graph is drawn: the gradient check, whose cost is not
    bounded by the graph's size, is `pending`, to be fetched from `extras`, unless the
    request's `include` asks for it in this answer. An answer served from the cache has
    everything."""
    note_program(http, request.code, settings.access_log_program)
    answered = await answer(request, services)
    return Response(answered.body, media_type="application/json", headers=answered.headers)


@dataclass(frozen=True)
class Answered:
    """The JSON of a GraphResponse, and the headers that name what only this replica keeps
    (the graph for other views, pending extras): a proxy in front of several sends the
    fetch of either here by its token."""

    body: bytes
    headers: dict[str, str]


async def answer(request: GraphRequest, services: Services) -> Answered:
    """The whole pipeline for one program: what POST /api/graph answers, and what the local
    client (app.client) runs without HTTP. Raises ProgramError for the program's faults and
    SaturatedError when every worker is busy."""
    token = shape_key(request)
    # A kept answer names its graph for other views: it is served only while that holds.
    if services.shapes.get(token) is not None:
        kept = _kept(request, token, services)
        if kept is not None:
            return kept
    evaluated, held = await _evaluate(request, services)
    if "gradcheck" in request.include:
        body, _ = await _completed(request, evaluated, services)
        return Answered(body, {SHAPE_TOKEN: token})
    pending = _pending(request, evaluated, services, held)
    body = await response_body(
        evaluated.data,
        evaluated.made,
        pending=["gradcheck"],
        extras=EXTRAS_PATH + pending,
        shape=token,
    )
    # Until the whole answer is kept, this one is, with its token, which a repeat replaces
    # by a token of its own (`_kept`).
    services.cache.put(cache_key(request) + PENDING_KEY, pending.encode() + b"\n" + body)
    return Answered(body, {EXTRAS_TOKEN: pending, SHAPE_TOKEN: token})


async def _evaluate(
    request: GraphRequest, services: Services, in_job: bool = True
) -> "tuple[Evaluated[ViewDrawing], int]":
    """Run the program; its graph is drawn while the job process computes the teaching
    fields, and kept for other views; with the graph's items (app.server.shapes.items). Not
    `in_job`: the drawing is laid out by layout
    processes, so that the job process, which a layout out of time would end, stays to
    make the extras."""
    layout, timeout_s = services.layout, services.settings.render_timeout_s
    evaluated = await services.pool.run(
        request,
        lambda shape, lay_out: draw(
            shape, layout, timeout_s, request.view, lay_out if in_job else None
        ),
    )
    data = evaluated.data
    held = services.shapes.put(
        shape_key(request),
        GraphShape.model_construct(
            root=data.root, nodes=data.nodes, edges=data.edges, groups=data.groups
        ),
    )
    return evaluated, held


async def _completed(
    request: GraphRequest, evaluated: "Evaluated[ViewDrawing] | None", services: Services
) -> tuple[bytes, Extras]:
    """The whole answer, its extras made now (by running the program again when there is
    no job process that answered, or it was let go of), kept in the cache when complete."""
    done = None if evaluated is None else await evaluated.extras.made()
    if evaluated is None or done is None:
        asked = request.model_copy(update={"include": ["gradcheck"]})
        evaluated, _ = await _evaluate(asked, services, in_job=False)
        done = await evaluated.extras.made()
    if done is None:  # the server is stopping
        raise SaturatedError
    data = evaluated.data.with_extras(done.value)
    body = await response_body(data, evaluated.made, shape=shape_key(request))
    if done.complete:
        services.cache.put(cache_key(request), body)
    return body, done


def _kept(request: GraphRequest, shape: str, services: Services) -> Answered | None:
    """The kept answer to `request`: whole, or without its extras (unless the request
    includes them), then under a token of its own, whose extras are made by running the
    program again when asked for."""
    cache, key = services.cache, cache_key(request)
    body = cache.get(key, count=False)
    unwhole = body is None and "gradcheck" not in request.include
    kept = cache.get(key + PENDING_KEY, count=False) if unwhole else None
    cache.tally(hit=body is not None or kept is not None)
    if body is not None:
        return Answered(body, {SHAPE_TOKEN: shape})
    if kept is None:
        return None
    told, _, body = kept.partition(b"\n")
    pending = _pending(request, None, services)
    # The token is unguessable and was made after the program was written: only the
    # `extras` field can hold it.
    old, new = (f'"{EXTRAS_PATH}{token}"'.encode() for token in (told.decode(), pending))
    return Answered(body.replace(old, new, 1), {EXTRAS_TOKEN: pending, SHAPE_TOKEN: shape})


def _pending(
    request: GraphRequest,
    evaluated: "Evaluated[ViewDrawing] | None",
    services: Services,
    held: int | None = None,
) -> str:
    """A token for the extras of `request`'s answer, made when first asked for: by the job
    process that answered if it still waits, else by running the program again. Only a
    small answer's graph (`held`, its items, up to HELD_ITEMS) waits with it, for the whole
    answer to be kept once its extras come (an entry may wait a minute, and a graph of
    thousands of values takes the server's memory many times its JSON)."""
    store = services.extras
    answered = evaluated.extras if evaluated is not None else None
    small = held is not None and held <= HELD_ITEMS
    whole = evaluated if evaluated is not None and small else None

    async def make() -> None:
        if whole is not None:
            _, done = await _completed(request, whole, services)
        else:
            made = await answered.made() if answered is not None else None
            done = made or (await _completed(request, None, services))[1]
        store.fill(pending, done.value.model_dump_json().encode())

    pending = store.open(make)
    return pending


@router.get(
    "/graph/extras/{token}",
    response_model=GraphExtras,
    responses={
        404: _problem("No such token, or its extras expired."),
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


@router.post(
    "/graph/view",
    response_model=GraphDrawing,
    responses={
        404: _problem("The server no longer keeps that graph: POST /api/graph again."),
        422: PROBLEMS[422] | {"description": "The request is not a view of a graph."},
    },
)
async def graph_view(
    request: ViewRequest, shapes: ShapesDep, layout: LayoutDep, settings: SettingsDep
) -> Response:
    """Another view of a graph POST /api/graph answered lately (its `shape` token): module
    calls collapsed, expanded, rolled or unrolled, drawn without running the program again."""
    shape = shapes.get(request.shape)
    if shape is None:
        raise HTTPException(404, "the server no longer keeps this graph: run the program again")
    body = shapes.drawing(request.shape, request.view)
    if body is None:
        drawn = await draw(shape, layout, settings.render_timeout_s, request.view)
        body = await in_turn(lambda: _drawing_body(drawn))
        shapes.keep_drawing(request.shape, request.view, body)
    return Response(body, media_type="application/json")


@dataclass(frozen=True)
class ViewDrawing:
    """A graph drawn in one view: its DOT source and what Graphviz made of it (SVG, or a
    warning); the server's form of GraphDrawing."""

    dot: str
    laid_out: LayoutResult
    view: GraphView
    shown_in: dict[int, str]


async def draw(
    shape: GraphShape,
    layout: LayoutService,
    timeout_s: float,
    view: GraphView | None = None,
    lay_out: LayOut | None = None,
) -> ViewDrawing:
    """Stage 4 for one graph, in `view` or the default one, while its job process computes
    the rest: the DOT on the event loop for a graph of up to INLINE_ANSWER_NODES nodes (a
    thread's hop would cost more), in a thread for a larger one; the layout is awaited. A
    graph of that size is laid out by `lay_out` (its job process) when given: in
    milliseconds, well within that process's limits; a larger one by layout processes."""
    chosen = view if view is not None else default_view(shape)

    def dot_source() -> tuple[str, dict[int, str]]:
        viewed = apply_view(shape, chosen)
        return build_dot(shape, viewed), viewed.shown_in

    if len(shape.nodes) > INLINE_ANSWER_NODES:
        dot, shown_in = await in_turn(dot_source)
        lay_out = None
    else:
        dot, shown_in = dot_source()
    return ViewDrawing(dot, await layout.render(dot, timeout_s, lay_out), chosen, shown_in)


def _drawing_body(drawn: ViewDrawing) -> bytes:
    drawing = GraphDrawing(
        view=drawn.view,
        dot=drawn.dot,
        svg=drawn.laid_out.svg,
        shown_in=drawn.shown_in,
        warning=drawn.laid_out.warning,
    )
    return drawing.model_dump_json().encode()


async def response_body(data: GraphData, drawn: ViewDrawing, **fields: object) -> bytes:
    """The JSON answer, with `fields` of GraphResponse beyond the data (`pending`,
    `extras`); a large one written in a thread."""
    if (
        len(data.nodes) > INLINE_ANSWER_NODES
        or len(data.edges) > INLINE_ANSWER_NODES
        or len(data.variables) > INLINE_ANSWER_NODES
        or len(data.stdout) > INLINE_STDOUT_CHARS
    ):
        return await in_turn(lambda: _body(data, drawn, fields))
    return _body(data, drawn, fields)


def _body(data: GraphData, drawn: ViewDrawing, fields: dict[str, object]) -> bytes:
    """`data` was validated when it left the worker; it is not again."""
    warnings = data.warnings + ([drawn.laid_out.warning] if drawn.laid_out.warning else [])
    values = {name: getattr(data, name) for name in GraphData.model_fields}
    response = GraphResponse.model_construct(
        **{**values, "warnings": warnings, **fields},
        dot=drawn.dot,
        svg=drawn.laid_out.svg,
        view=drawn.view,
        shown_in=drawn.shown_in,
        layers=layers(data),
    )
    return response.model_dump_json().encode()
