"""Access log: one JSON line per request on stdout, with its request id, never its program
unless `access_log_program` asks."""

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PROXY

PROGRAM = (
    "import torch\nsecret_weights_7 = torch.ones(2, requires_grad=True)\n"
    "y = secret_weights_7.sum()\n"
)


def lines(capfd: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """The JSON lines written to stdout since the last call."""
    out = capfd.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_one_line_per_request_with_its_fields(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    lines(capfd)
    response = client.post("/api/graph", json={"code": PROGRAM})
    assert response.status_code == 200
    (line,) = lines(capfd)
    assert line["method"] == "POST"
    assert line["route"] == "/api/graph"
    assert line["status"] == 200
    assert line["client"] == "testclient"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["bytes"] == len(response.content)
    assert str(line["time"]).endswith("Z")
    assert str(line["time"])[10] == "T"
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["program_sha256"] == hashlib.sha256(PROGRAM.encode()).hexdigest()[:16]
    assert line["program_chars"] == len(PROGRAM)


def test_the_program_text_stays_out_of_the_log_by_default(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    lines(capfd)
    client.post("/api/graph", json={"code": PROGRAM + "z = y * 2\n"})
    client.post("/api/graph", json={"code": "import torch\nraise ValueError('secret_weights_7')\n"})
    out = capfd.readouterr().out
    assert out.count("\n") >= 2
    assert "secret_weights_7" not in out


def test_the_program_text_is_logged_when_the_setting_asks(
    ops_client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    lines(capfd)
    ops_client.post(
        "/api/graph", json={"code": PROGRAM}, headers={"X-Forwarded-For": "203.0.113.20"}
    )
    (line,) = lines(capfd)
    assert line["program"] == PROGRAM


def test_request_ids_are_taken_from_the_request_and_echoed(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    lines(capfd)
    given = client.get("/healthz", headers={"X-Request-ID": "proxy-7f3a:42"})
    assert given.headers["x-request-id"] == "proxy-7f3a:42"
    made = [client.get("/healthz").headers["x-request-id"] for _ in range(2)]
    assert made[0] != made[1]
    assert all(made)
    # not a token: replaced, so a client cannot write what it likes into the log
    for hostile in ("a b", 'x"}\n{"status": 200', "x" * 129):
        echoed = client.get("/healthz", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert echoed != hostile
    logged = [line["request_id"] for line in lines(capfd)]
    assert logged[:3] == ["proxy-7f3a:42", *made]


def test_refusals_name_their_problem_type(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    lines(capfd)
    client.post("/api/graph", json={"code": "#" * 100_000})
    client.get("/api/graph/extras/" + "t" * 40)
    too_large, unknown = lines(capfd)
    assert (too_large["status"], too_large["problem"], too_large["route"]) == (
        413,
        "too-large",
        "/api/graph",
    )
    # the token is a capability to someone's answer: only the route's template is logged
    assert unknown["route"] == "/api/graph/extras/{token}"
    assert unknown["problem"] == "http-404"
    assert "t" * 40 not in json.dumps(unknown)


def test_the_client_is_named_by_a_trusted_proxy_only(
    client: TestClient, ops_client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    lines(capfd)
    # the session's app trusts no proxy: the header is anyone's to write
    client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.30"})
    # the ops app trusts PROXY: the address it appended is the client, not what came before
    ops_client.get("/healthz", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.31"})
    ops_client.get("/healthz")
    untrusted, forwarded, direct = lines(capfd)
    assert untrusted["client"] == "testclient"
    assert forwarded["client"] == "203.0.113.31"
    assert direct["client"] == PROXY
