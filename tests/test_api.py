"""The HTTP API, through real worker processes."""

from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from app.contract.schemas import GradCheckInfo, GraphRequest, GraphShape
from app.contract.settings import Limits
from app.server.wall import LAYERS
from app.worker import capture, gradcheck
from app.worker.evaluate import evaluate
from tests.seed_cells import CHAIN_RULE_LESSON


def test_seed_chain_rule_over_http(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": CHAIN_RULE_LESSON})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert round(body["variables"]["x"]["grad"], 4) == -5.4668
    assert body["svg"].startswith("<svg")
    ids = {element.get("id") for element in ElementTree.fromstring(body["svg"]).iter()}
    assert {"node-0", "node-1", "node-2", "edge-1-0-0", "legend"} <= ids
    assert body["dot"].startswith("digraph")
    assert {"source", "target", "grad", "input_nr"} <= set(body["edges"][0])


def test_svg_download_names_the_served_font_and_its_fallbacks(client: TestClient) -> None:
    """An exported SVG names its fonts (it does not embed them): Liberation Sans, the metric
    twin of Helvetica the page serves, then the other names of the same metrics."""
    response = client.post("/api/graph.svg", json={"code": CHAIN_RULE_LESSON})
    assert response.status_code == 200
    namespace = "{http://www.w3.org/2000/svg}"
    texts = list(ElementTree.fromstring(response.text).iter(f"{namespace}text"))
    assert texts
    for text in texts:
        assert text.get("font-family") == "'Liberation Sans',Arimo,Helvetica,Arial,sans-serif"


def test_refused_program_is_problem_json(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": "import os"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Not allowed"
    assert (problem["line"], problem["column"]) == (1, 8)
    assert problem["status"] == 422
    assert problem["type"].endswith("not-allowed")


def test_invalid_body_is_problem_json(client: TestClient) -> None:
    bodies: list[object] = [{"cod": "x"}, {"code": 3}, []]
    for body in bodies:
        response = client.post("/api/graph", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    response = client.post(
        "/api/graph", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_unknown_output_is_a_clear_422(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": "x = 1", "output": "loss"})
    assert response.status_code == 422
    assert "'loss'" in response.json()["detail"]


def test_too_large_body_is_413(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": "#" * 100_000})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_runaway_program_is_stopped(client: TestClient) -> None:
    code = "import torch\nx = torch.ones(300, 300)\nwhile True:\n    x = x @ x / 300"
    response = client.post("/api/graph", json={"code": code})
    assert response.status_code == 422
    assert response.json()["title"] == "Limit reached"
    assert client.get("/healthz").status_code == 200
    follow_up = client.post("/api/graph", json={"code": CHAIN_RULE_LESSON})
    assert follow_up.status_code == 200


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    # each layer of the kernel's wall, all of which this machine (and CI's) has
    assert health["wall"] == dict.fromkeys(LAYERS, "present")
    assert health["sandbox"] == "full"


def test_openapi_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/graph"]["post"]
    assert {"200", "413", "422", "503"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    assert {
        "GraphRequest",
        "GraphResponse",
        "NodeInfo",
        "EdgeInfo",
        "VariableInfo",
        "Problem",
    } <= set(schemas)


def test_page_has_the_controls_and_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert 'for="code"' in response.text
    assert ">Code<" in response.text
    assert 'role="alert"' in response.text
    assert "<script>" not in response.text
    assert "style=" not in response.text


def test_shape_is_told_before_the_teaching_fields() -> None:
    """The server draws the shape while the worker computes the rest: it must be the graph
    the answer ends with, told before the gradient check runs."""
    told: list[tuple[GraphShape, bool]] = []
    checked: list[str] = []
    original = gradcheck.check_gradients

    def check(*args: Any) -> dict[str, GradCheckInfo]:
        checked.append("now")
        return original(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture, "check_gradients", check)
        data = evaluate(
            GraphRequest(code=CHAIN_RULE_LESSON),
            Limits(),
            lambda shape: told.append((shape, bool(checked))),
        )
    assert checked
    assert len(told) == 1
    shape, after_check = told[0]
    assert not after_check
    assert (shape.root, shape.nodes, shape.edges) == (data.root, data.nodes, data.edges)
