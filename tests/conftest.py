"""Shared fixtures: one app with real worker processes for the whole session."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.layout import LayoutService
from app.main import create_app
from app.settings import Settings
from bench.server import running_server


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(workers=2, job_timeout_s=5.0)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """uvicorn serving app.main:app on a free port, as `agx serve` and the benchmark run it;
    one for the session (browser, client and agx tests)."""
    with running_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def layout() -> Iterator[LayoutService]:
    """One Graphviz layout helper for the tests that draw without the app."""
    service = LayoutService(helpers=1, memory_mb=1_024)
    service.start()
    yield service
    service.stop()
