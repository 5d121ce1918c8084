"""Dependencies the routers share, as `Annotated` types."""

from typing import Annotated

from fastapi import Depends, Request

from app.cache import ResponseCache
from app.layout import LayoutService
from app.settings import Settings
from app.workers import WorkerPool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> WorkerPool:
    pool: WorkerPool = request.app.state.pool
    return pool


def get_layout(request: Request) -> LayoutService:
    layout: LayoutService = request.app.state.layout
    return layout


def get_cache(request: Request) -> ResponseCache:
    cache: ResponseCache = request.app.state.cache
    return cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[WorkerPool, Depends(get_pool)]
LayoutDep = Annotated[LayoutService, Depends(get_layout)]
CacheDep = Annotated[ResponseCache, Depends(get_cache)]
