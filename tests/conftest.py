"""Shared fixtures: one app with real worker processes for the whole session."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.contract.settings import Settings
from app.main import create_app
from app.server.layout import LayoutService
from bench.server import running_server


@pytest.fixture(scope="session")
def settings() -> Settings:
    # Every request of the session comes from one test client: no rate limit between them.
    return Settings(workers=2, job_timeout_s=5.0, rate_limit_per_s=0)


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
    service.processes.start()
    yield service
    service.processes.stop()


# The app the operations tests share (metrics, access log, rate limits, readiness): behind a
# proxy at PROXY, which names each test's client in X-Forwarded-For; SCRAPER may read
# /metrics.
PROXY = "10.9.0.1"
SCRAPER = "192.0.2.10"
OPS_SETTINGS = Settings(
    workers=1,
    layout_helpers=1,
    job_timeout_s=2.0,
    access_log_program=True,
    rate_limit_per_s=1.0,
    rate_limit_burst=4,
    rate_limit_exempt=["198.51.100.0/24"],
    trusted_proxies=["10.9.0.0/16"],
    metrics_networks=["192.0.2.0/28"],
)


@pytest.fixture(scope="session")
def ops_client() -> Iterator[TestClient]:
    app = create_app(OPS_SETTINGS)
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 40000)) as test_client:
        yield test_client
