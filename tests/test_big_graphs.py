"""Over HTTP: a long loop is drawn in part but answered in full; repeats come from the cache."""

from fastapi.testclient import TestClient

from app.render import MAX_DRAWN_NODES

RNN = """import torch
W = torch.randn(3, 3, requires_grad=True)
h = torch.zeros(3)
for t in range(300):
    h = torch.tanh(W @ h + 1)
loss = h.sum()
"""


def test_long_loop_keeps_every_node_in_json_and_draws_a_gap(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": RNN})
    assert response.status_code == 200
    body = response.json()
    assert len(body["nodes"]) > MAX_DRAWN_NODES
    assert all(node["grad"] is not None for node in body["nodes"])
    assert body["svg"].startswith("<svg")
    assert 'id="elided"' in body["svg"]


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
