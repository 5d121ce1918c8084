"""HTTP hardening: body caps while streaming, problem+json everywhere, headers, SVG download."""

from collections.abc import Iterator

from fastapi.testclient import TestClient

from app.contract.settings import Settings
from tests.security.conftest import assert_problem

NORMAL = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3"


def test_chunked_body_over_the_limit_is_413(client: TestClient, settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"#" * 1024
        yield b'"}'

    response = client.post(
        "/api/graph", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, range(413, 414))


def test_lying_content_length_is_413(client: TestClient) -> None:
    response = client.post(
        "/api/graph",
        content=b'{"code": "x = 1"}',
        headers={"content-type": "application/json", "content-length": "99999999999"},
    )
    assert_problem(response, range(413, 414))


def test_errors_of_every_kind_are_problem_json(client: TestClient) -> None:
    assert_problem(client.get("/no/such/page"), range(404, 405))
    assert_problem(client.get("/api/graph"), range(405, 406))
    assert_problem(
        client.post("/api/graph", content=b"\xff\xfe", headers={"content-type": "application/json"})
    )
    assert_problem(client.post("/api/graph", json={"code": "x = 1", "extra": 1}))
    json_bomb = b"[" * 60_000  # nesting that overflows a recursive JSON parser
    assert_problem(
        client.post("/api/graph", content=json_bomb, headers={"content-type": "application/json"})
    )
    lone_surrogate = b'{"code": "x = \'\\ud800\'"}'
    assert_problem(
        client.post(
            "/api/graph", content=lone_surrogate, headers={"content-type": "application/json"}
        )
    )


def test_security_headers_on_api_answers_and_errors(client: TestClient) -> None:
    for response in (
        client.post("/api/graph", json={"code": NORMAL}),
        client.post("/api/graph", json={"code": "import os"}),
        client.get("/"),
    ):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_svg_is_served_as_a_sandboxed_download(client: TestClient) -> None:
    response = client.post("/api/graph.svg", json={"code": NORMAL})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"].startswith("attachment;")
    csp = response.headers["content-security-policy"]
    assert csp == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text.lstrip().startswith("<svg")
    assert "<script" not in response.text


def test_svg_download_of_a_refused_program_is_problem_json(client: TestClient) -> None:
    problem = assert_problem(client.post("/api/graph.svg", json={"code": "import os"}))
    assert problem["line"] == 1


def test_openapi_describes_the_download(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/graph.svg"]["post"]
    assert "image/svg+xml" in operation["responses"]["200"]["content"]
    assert {"413", "422", "503"} <= set(operation["responses"])
