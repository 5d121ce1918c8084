"""Dependencies the routers share, as `Annotated` types."""

from typing import Annotated

from fastapi import Depends, Request

from app.settings import Settings
from app.workers import WorkerPool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> WorkerPool:
    pool: WorkerPool = request.app.state.pool
    return pool


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[WorkerPool, Depends(get_pool)]
