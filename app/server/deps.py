"""Dependencies the routers share, as `Annotated` types.

They are `async` because FastAPI runs a plain `def` dependency in its thread pool: a thread
hop per dependency on every request, which would cost more than an answer served from the
cache.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from app.contract.settings import Settings
from app.server.extras import ExtrasStore
from app.server.layout import LayoutService
from app.server.services import Services
from app.server.shapes import ShapeStore
from app.server.workers import EvaluationPool


def _service(name: str) -> Callable[[Request], Coroutine[Any, Any, Any]]:
    """A dependency that hands out one of the services the app's lifespan started, or all
    of them (`name` empty)."""

    async def dependency(request: Request) -> Any:
        services = request.app.state.services
        return getattr(services, name) if name else services

    return dependency


async def _settings(request: Request) -> Settings:
    """The app's settings, there from its creation, before the services start."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
ServicesDep = Annotated[Services, Depends(_service(""))]
PoolDep = Annotated[EvaluationPool, Depends(_service("pool"))]
LayoutDep = Annotated[LayoutService, Depends(_service("layout"))]
ExtrasDep = Annotated[ExtrasStore, Depends(_service("extras"))]
ShapesDep = Annotated[ShapeStore, Depends(_service("shapes"))]
