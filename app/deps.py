"""Dependencies the routers share, as `Annotated` types.

They are `async` because FastAPI runs a plain `def` dependency in its thread pool: a thread
hop per dependency on every request, which would cost more than an answer served from the
cache.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from app.cache import ResponseCache
from app.extras import ExtrasStore
from app.layout import LayoutService
from app.settings import Settings
from app.workers import WorkerPool


def _app_state(name: str) -> Callable[[Request], Coroutine[Any, Any, Any]]:
    """A dependency that hands out one of the objects the app's lifespan keeps in its state."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return dependency


SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
PoolDep = Annotated[WorkerPool, Depends(_app_state("pool"))]
LayoutDep = Annotated[LayoutService, Depends(_app_state("layout"))]
CacheDep = Annotated[ResponseCache, Depends(_app_state("cache"))]
ExtrasDep = Annotated[ExtrasStore, Depends(_app_state("extras"))]
