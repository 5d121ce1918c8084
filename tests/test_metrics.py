"""GET /metrics: Prometheus's text format, closed sets of labels, no program text."""

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SCRAPER

PROGRAM = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\n"
# Each turn reads 4M elements and makes one: the step limit (200,000) is thousands of
# turns away when the time limit kills the process.
RUNAWAY = "import torch\nx = torch.ones(2000, 2000)\nwhile True:\n    s = x.sum()\n"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and sorted labels."""
    response = client.get("/metrics", headers={"X-Forwarded-For": SCRAPER})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(client: TestClient, code: str, who: str = "203.0.113.1") -> dict[str, object]:
    response = client.post("/api/graph", json={"code": code}, headers={"X-Forwarded-For": who})
    body: dict[str, object] = response.json()
    return body


def test_requests_are_counted_by_route_template_and_status(ops_client: TestClient) -> None:
    before = scrape(ops_client)
    answer = post(ops_client, PROGRAM)
    token = str(answer["extras"]).rsplit("/", 1)[-1]
    assert (
        ops_client.get(
            f"/api/graph/extras/{token}", headers={"X-Forwarded-For": "203.0.113.1"}
        ).status_code
        == 200
    )
    assert ops_client.get("/no-such-page-xyz").status_code == 404
    after = scrape(ops_client)
    post_ok = {"method": "POST", "route": "/api/graph", "status": "200"}
    assert (
        value(after, "agx_http_requests_total", **post_ok)
        == value(before, "agx_http_requests_total", **post_ok) + 1
    )
    extras = {"method": "GET", "route": "/api/graph/extras/{token}", "status": "200"}
    assert value(after, "agx_http_requests_total", **extras) >= 1
    assert (
        value(after, "agx_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    )
    latency = {"method": "POST", "route": "/api/graph"}
    assert value(after, "agx_http_request_duration_seconds_count", **latency) >= 1
    assert value(after, "agx_http_request_duration_seconds_sum", **latency) > 0
    # the path and the token are the client's text: neither becomes a label
    text = ops_client.get("/metrics", headers={"X-Forwarded-For": SCRAPER}).text
    assert token not in text
    assert "no-such-page-xyz" not in text


def test_evaluation_and_layout_durations(ops_client: TestClient) -> None:
    post(ops_client, PROGRAM + "z = y * 3\n")
    samples = scrape(ops_client)
    assert value(samples, "agx_evaluation_duration_seconds_count", outcome="ok") >= 1
    assert value(samples, "agx_evaluation_duration_seconds_sum", outcome="ok") > 0
    assert value(samples, "agx_layout_duration_seconds_count", engine="dot") >= 1
    bucket = value(samples, "agx_layout_duration_seconds_bucket", engine="dot", le="+Inf")
    assert bucket == value(samples, "agx_layout_duration_seconds_count", engine="dot")


def test_refusals_are_counted_by_problem_type(ops_client: TestClient) -> None:
    response = ops_client.post(
        "/api/graph", json={"code": "import os\n"}, headers={"X-Forwarded-For": "203.0.113.2"}
    )
    assert response.status_code == 422
    kind = response.json()["type"].removeprefix("/problems/")
    before = scrape(ops_client)
    ops_client.post(
        "/api/graph", json={"code": "import os\n"}, headers={"X-Forwarded-For": "203.0.113.2"}
    )
    too_large = ops_client.post(
        "/api/graph", json={"code": "#" * 100_000}, headers={"X-Forwarded-For": "203.0.113.2"}
    )
    assert too_large.status_code == 413
    after = scrape(ops_client)
    assert (
        value(after, "agx_refusals_total", type=kind)
        == value(before, "agx_refusals_total", type=kind) + 1
    )
    assert (
        value(after, "agx_refusals_total", type="too-large")
        == value(before, "agx_refusals_total", type="too-large") + 1
    )
    # a refusal before routing still has its route
    assert (
        value(after, "agx_http_requests_total", method="POST", route="/api/graph", status="413")
        >= 1
    )


def test_pool_gauges(ops_client: TestClient) -> None:
    samples = scrape(ops_client)
    for pool in ("evaluation", "layout"):
        assert value(samples, "agx_pool_slots", pool=pool) == 1
        assert value(samples, "agx_pool_idle", pool=pool) >= 1  # warm spares wait for jobs
        assert ("agx_pool_busy", (("pool", pool),)) in samples
        assert ("agx_pool_waiting", (("pool", pool),)) in samples


def test_the_server_process_is_described(ops_client: TestClient) -> None:
    samples = scrape(ops_client)
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_open_fds") > 0
    assert any(name == "python_info" for name, _ in samples)


def test_job_process_restarts_are_counted_with_their_cause(ops_client: TestClient) -> None:
    before = scrape(ops_client)
    assert post(ops_client, RUNAWAY, who="203.0.113.3")["title"] == "Limit reached"
    answer = post(ops_client, PROGRAM + "w = y + 1\n", who="203.0.113.3")
    # Its process is replaced once it answered; it waits for its gradient check to be asked.
    waiting = scrape(ops_client)
    assert value(waiting, "agx_answered_waiting") >= 1
    ops_client.get(str(answer["extras"]), headers={"X-Forwarded-For": "203.0.113.3"})
    after = scrape(ops_client)
    asked = value(after, "agx_answered_total", end="asked")
    assert asked == value(before, "agx_answered_total", end="asked") + 1
    timeout = {"pool": "evaluation", "cause": "timeout"}
    assert (
        value(after, "agx_job_process_restarts_total", **timeout)
        == value(before, "agx_job_process_restarts_total", **timeout) + 1
    )
    completed = {"pool": "evaluation", "cause": "completed"}
    assert value(after, "agx_job_process_restarts_total", **completed) > value(
        before, "agx_job_process_restarts_total", **completed
    )
    assert value(after, "agx_evaluation_duration_seconds_count", outcome="timeout") >= 1


def test_no_program_text_reaches_the_metrics(ops_client: TestClient) -> None:
    marker = "secret_name_of_a_learner_42"
    post(
        ops_client,
        f"import torch\n{marker} = torch.ones(2, requires_grad=True)\ny = {marker}.sum()\n",
    )
    post(ops_client, f"import torch\nraise ValueError('{marker}')\n")
    text = ops_client.get("/metrics", headers={"X-Forwarded-For": SCRAPER}).text
    assert marker not in text


def test_metrics_are_open_only_to_the_configured_networks(ops_client: TestClient) -> None:
    for headers in ({"X-Forwarded-For": "203.0.113.9"}, {}):  # a client; the proxy itself
        response = ops_client.get("/metrics", headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert "AGX_METRICS_NETWORKS" in response.json()["detail"]


def test_metrics_are_loopback_only_by_default(client: TestClient) -> None:
    """The session's app has the default networks: its test client is not on loopback."""
    assert client.get("/metrics").status_code == 403
