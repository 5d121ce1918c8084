"""Dependencies the routers share, as `Annotated` types.

They are `async` because FastAPI runs a plain `def` dependency in its thread pool: four thread
hops per request were most of the time of an answer served from the cache.
"""

from typing import Annotated

from fastapi import Depends, Request

from app.cache import ResponseCache
from app.layout import LayoutService
from app.settings import Settings
from app.workers import WorkerPool


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_pool(request: Request) -> WorkerPool:
    pool: WorkerPool = request.app.state.pool
    return pool


async def get_layout(request: Request) -> LayoutService:
    layout: LayoutService = request.app.state.layout
    return layout


async def get_cache(request: Request) -> ResponseCache:
    cache: ResponseCache = request.app.state.cache
    return cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[WorkerPool, Depends(get_pool)]
LayoutDep = Annotated[LayoutService, Depends(get_layout)]
CacheDep = Annotated[ResponseCache, Depends(get_cache)]
