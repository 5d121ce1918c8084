"""POST /api/graph.svg: the drawing alone, as a file to download.

The program travels in the body, as for /api/graph (a GET with code in the URL would put it
in logs, history and Referer headers). The SVG holds text from the program, so it is served
as an attachment under a CSP that runs nothing and sandboxes it, even when opened directly.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.contract.errors import ProgramError
from app.server.deps import LayoutDep, PoolDep, SettingsDep
from app.server.observe import note_program
from app.server.routes.graph import PROBLEMS, GraphRequestBody, draw

router = APIRouter(prefix="/api", tags=["graph"])

SVG_HEADERS = {
    "content-disposition": 'attachment; filename="autograd-graph.svg"',
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


@router.post(
    "/graph.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "The drawing, as a download."},
        **PROBLEMS,
    },
)
async def graph_svg(
    request: GraphRequestBody,
    pool: PoolDep,
    layout: LayoutDep,
    settings: SettingsDep,
    http: Request,
) -> Response:
    """Run the program like POST /api/graph and answer with its SVG drawing only."""
    note_program(http, request.code, settings.access_log_program)
    evaluated = await pool.run(
        request,
        lambda shape, lay_out: draw(
            shape, layout, settings.render_timeout_s, request.view, lay_out
        ),
    )
    evaluated.extras.let_go()  # a drawing has no gradient check
    drawn = evaluated.made
    if drawn.laid_out.svg is None:
        raise ProgramError(
            "Drawing failed",
            "the graph is too large to lay out in time; try a smaller program",
            slug="render-timeout",
        )
    return Response(drawn.laid_out.svg, media_type="image/svg+xml", headers=SVG_HEADERS)
