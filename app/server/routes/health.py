"""GET /healthz (the process lives, and which walls hold its job processes) and GET /readyz
(it can take work now): a load balancer sends work only where /readyz says 200."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.server.deps import LayoutDep, PoolDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(pool: PoolDep, request: Request) -> dict[str, object]:
    """`wall`: each layer of the kernel's wall around job processes, "present" or why not."""
    wall: dict[str, str] = request.app.state.wall
    return {
        "status": "ok",
        "workers": pool.settings.workers,
        "ready": pool.processes.state()["idle"],
        "wall": wall,
        "sandbox": "full" if all(state == "present" for state in wall.values()) else "weakened",
    }


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: no job process is warm, or the queue is full."}},
)
async def readyz(pool: PoolDep, layout: LayoutDep) -> Response:
    """Ready when a request would be taken now: an evaluation process and a layout helper
    are warm (or one is free to wait for), and the queue for them has room. Busy is ready:
    a request then waits its turn here as well as anywhere."""
    evaluation, drawing = pool.processes.state(), layout.processes.state()
    room = evaluation["waiting"] < pool.settings.max_waiting or evaluation["idle"] > 0
    warm = evaluation["idle"] + evaluation["busy"] > 0 and drawing["idle"] + drawing["busy"] > 0
    ready = room and warm and not pool.stopping
    body = {
        "status": "ready" if ready else "not ready",
        "workers": evaluation["slots"],
        "busy": evaluation["busy"],
        "idle": evaluation["idle"],
        "waiting": evaluation["waiting"],
        "layout_idle": drawing["idle"],
    }
    headers = None if ready else {"Retry-After": "1"}
    return JSONResponse(body, status_code=200 if ready else 503, headers=headers)
