"""GET /healthz: the server answers and has workers."""

from fastapi import APIRouter

from app.deps import PoolDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(pool: PoolDep) -> dict[str, int | str]:
    return {"status": "ok", "workers": len(pool.workers)}
