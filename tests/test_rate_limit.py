"""Per-client rate limits: a token bucket per client address, 429 problem+json with
Retry-After, and X-Forwarded-For believed from configured proxies only."""

import ipaddress
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.server.peers import ClientResolver, host_key
from app.server.ratelimit import TokenBuckets
from tests.conftest import OPS_SETTINGS, PROXY, SCRAPER


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3, keys=10)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)  # one token in half a second
    assert buckets.take("b", now=0.0) == 0  # another client has its own bucket
    assert buckets.take("a", now=0.5) == 0
    assert buckets.take("a", now=0.5) > 0
    assert [buckets.take("a", now=100.0) for _ in range(3)] == [0, 0, 0]  # never over burst
    assert buckets.take("a", now=100.0) > 0


def test_refused_requests_do_not_earn_a_later_wait() -> None:
    """A client hammering while refused waits for one token, not for every refusal."""
    buckets = TokenBuckets(rate=1.0, burst=1, keys=10)
    assert buckets.take("a", now=0.0) == 0
    for _ in range(100):
        assert buckets.take("a", now=0.1) == pytest.approx(0.9)
    assert buckets.take("a", now=1.0) == 0


def test_buckets_are_bounded_in_number() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, keys=3)
    for index in range(1000):
        buckets.take(f"client-{index}", now=0.0)
    assert len(buckets.buckets) == 3


def test_x_forwarded_for_is_read_from_the_right_and_from_trusted_proxies_only() -> None:
    resolver = ClientResolver([ipaddress.ip_network("10.0.0.0/8")])

    def client(peer: str, *forwarded: str) -> str:
        headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
        return resolver.client({"client": (peer, 1), "headers": headers})

    assert client("203.0.113.1", "1.1.1.1") == "203.0.113.1"  # not a proxy: header ignored
    assert client("10.0.0.1") == "10.0.0.1"
    assert client("10.0.0.1", "1.1.1.1, 203.0.113.5") == "203.0.113.5"  # the client's own
    assert client("10.0.0.1", "1.1.1.1", "203.0.113.5, 10.0.0.2") == "203.0.113.5"
    assert client("10.0.0.1", "10.0.0.3, 10.0.0.2") == "10.0.0.3"  # only proxies: the last
    assert client("10.0.0.1", "203.0.113.5, junk") == "10.0.0.1"  # nothing left of junk
    assert client("10.0.0.1", "x" * 10_000) == "10.0.0.1"
    assert ClientResolver([]).client({"client": ("10.0.0.1", 1), "headers": []}) == "10.0.0.1"


def test_an_ipv6_host_is_limited_by_its_64() -> None:
    assert host_key("2001:db8:1:2:aaaa::1") == host_key("2001:db8:1:2:bbbb::9")
    assert host_key("2001:db8:1:3::1") != host_key("2001:db8:1:2::1")
    assert host_key("203.0.113.7") == "203.0.113.7"


def api(client: TestClient, who: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded or who}
    status: int = client.get("/api/graph/extras/unknown", headers=headers).status_code
    return status


def test_a_client_past_its_burst_gets_429_with_retry_after(ops_client: TestClient) -> None:
    burst = OPS_SETTINGS.rate_limit_burst
    assert [api(ops_client, "203.0.113.40") for _ in range(burst)] == [404] * burst
    refused = ops_client.get(
        "/api/graph/extras/unknown", headers={"X-Forwarded-For": "203.0.113.40"}
    )
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/rate-limited"
    assert problem["status"] == 429
    assert "try again in 1 s" in problem["detail"]
    assert refused.headers["retry-after"] == "1"  # one token a second
    # others are not held up; a spoofed header in front of the proxy's entry changes nothing
    assert api(ops_client, "203.0.113.41") == 404
    assert api(ops_client, "203.0.113.40", "198.51.100.7, 203.0.113.40") == 429
    # the page's own files do not count
    assert ops_client.get("/", headers={"X-Forwarded-For": "203.0.113.40"}).status_code == 200
    time.sleep(float(refused.headers["retry-after"]))
    assert api(ops_client, "203.0.113.40") == 404


def test_exempt_networks_are_never_limited(ops_client: TestClient) -> None:
    statuses = {api(ops_client, "198.51.100.9") for _ in range(OPS_SETTINGS.rate_limit_burst * 3)}
    assert statuses == {404}


def test_refusals_are_counted(ops_client: TestClient) -> None:
    while api(ops_client, "203.0.113.42") != 429:
        pass
    metrics = ops_client.get("/metrics", headers={"X-Forwarded-For": SCRAPER}).text
    assert 'agx_refusals_total{type="rate-limited"}' in metrics
    assert 'route="/api/graph/extras/{token}",status="429"' in metrics


def test_behind_an_untrusted_proxy_every_client_shares_its_address(
    ops_client: TestClient,
) -> None:
    """What an operator sees who forgot `trusted_proxies`: the proxy (here the test
    client's own address, sending no header) is one client."""
    statuses = [ops_client.get("/api/graph/extras/x").status_code for _ in range(10)]
    assert 429 in statuses


# Runs until the job's time limit (2 s here) ends it: what a client holding workers sends.
UNTIL_THE_LIMIT = "import torch\nA = torch.randn(1000000)\nwhile True:\n    s = A.sum()"


@pytest.fixture
def held_client() -> Iterator[TestClient]:
    """The operators' settings in an app of its own: its workers are held to the time limit,
    and the session's shared app should not be replacing processes for other tests."""
    app = create_app(OPS_SETTINGS)
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 40000)) as client:
        yield client


def test_a_client_may_have_only_so_many_programs_running(held_client: TestClient) -> None:
    """Each program may run to the time limit: one client's third at once is refused at
    once, not queued for a worker, and another client is not refused."""
    ops_client = held_client
    running = OPS_SETTINGS.rate_limit_running
    holder = {"X-Forwarded-For": "203.0.113.60"}

    def post(headers: dict[str, str]) -> int:
        response = ops_client.post("/api/graph", json={"code": UNTIL_THE_LIMIT}, headers=headers)
        status: int = response.status_code
        return status

    with ThreadPoolExecutor(running) as pool:
        held = [pool.submit(post, holder) for _ in range(running)]
        time.sleep(0.5)  # both are in: one runs, one waits for the only worker
        refused = ops_client.post("/api/graph", json={"code": "x = 1"}, headers=holder)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert "programs running already" in refused.json()["detail"]
        # the drawing alone, and a fetch of extras (which may run the program again), too
        drawing = ops_client.post("/api/graph.svg", json={"code": "x = 1"}, headers=holder)
        assert drawing.status_code == 429
        assert ops_client.get("/api/graph/extras/x", headers=holder).status_code == 429
        other = ops_client.post(
            "/api/graph", json={"code": "x = 1"}, headers={"X-Forwarded-For": "203.0.113.61"}
        )
        assert other.status_code != 429
        assert [future.result() for future in held] == [422] * running  # the time limit
    # once its programs have ended, the client runs another
    assert post(holder) == 422
