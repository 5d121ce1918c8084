"""GET /healthz: the server answers, has job processes, and which walls hold them."""

from fastapi import APIRouter, Request

from app.deps import PoolDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(pool: PoolDep, request: Request) -> dict[str, object]:
    """`wall`: each layer of the kernel's wall around job processes, "present" or why not."""
    wall: dict[str, str] = request.app.state.wall
    return {
        "status": "ok",
        "workers": pool.settings.workers,
        "ready": pool.idle.qsize(),
        "wall": wall,
        "sandbox": "full" if all(state == "present" for state in wall.values()) else "weakened",
    }
