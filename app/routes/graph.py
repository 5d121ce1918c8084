"""POST /api/graph: the whole pipeline for one program."""

import anyio
from fastapi import APIRouter

from app.deps import PoolDep, SettingsDep
from app.render import build_dot, render_svg
from app.schemas import GraphRequest, GraphResponse, Problem

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
async def graph(request: GraphRequest, pool: PoolDep, settings: SettingsDep) -> GraphResponse:
    """Run the program, walk its autograd graph, backpropagate, and draw it."""
    data = await pool.run(request)
    dot = build_dot(data)
    rendered = await anyio.to_thread.run_sync(render_svg, dot, settings.render_timeout_s)
    warnings = data.warnings + ([rendered.warning] if rendered.warning else [])
    return GraphResponse(
        **data.model_dump(exclude={"warnings"}), warnings=warnings, dot=dot, svg=rendered.svg
    )
