"""Over HTTP: a long loop is drawn and answered in full; repeats come from the cache."""

import html
import re

from fastapi.testclient import TestClient

RNN = """import torch
W = torch.randn(3, 3, requires_grad=True)
h = torch.zeros(3)
for t in range(300):
    h = torch.tanh(W @ h + 1)
loss = h.sum()
"""


def test_long_loop_keeps_every_node_in_json_and_draws_every_one(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": RNN})
    assert response.status_code == 200
    body = response.json()
    assert len(body["nodes"]) > 900
    assert all(node["grad"] is not None for node in body["nodes"])
    assert body["svg"].startswith("<svg")
    svg = html.unescape(body["svg"])  # Graphviz writes node-0 as node&#45;0
    drawn = {int(found) for found in re.findall(r'id="node-(\d+)(?:-copy\d+)?"', svg)}
    assert drawn == {node["id"] for node in body["nodes"]}
    assert body["warnings"] == []  # drawn by dot in time


def test_repeated_request_is_answered_from_the_cache(client: TestClient) -> None:
    # With its gradient check: the answer is complete, so cached as soon as it is sent.
    request = {
        "code": "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x",
        "include": ["gradcheck"],
    }
    cache = client.app.state.services.cache  # type: ignore[attr-defined]
    first = client.post("/api/graph", json=request)
    hits = cache.hits
    second = client.post("/api/graph", json=request)
    assert cache.hits == hits + 1
    assert second.content == first.content
    assert second.headers["content-type"] == "application/json"
