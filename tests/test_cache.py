"""The answer cache: hits, misses, LRU order and both bounds; drawings kept by their DOT."""

import hashlib
from typing import Any

from fastapi.testclient import TestClient

from app.contract.schemas import GraphRequest, GraphShape, NodeInfo
from app.server.cache import ResponseCache, cache_key, shape_key
from app.server.shapes import ShapeStore, items


def test_hits_and_misses_are_counted() -> None:
    cache = ResponseCache(max_entries=4, max_bytes=1_000)
    assert cache.get("a") is None
    cache.put("a", b"body")
    assert cache.get("a") == b"body"
    assert (cache.hits, cache.misses) == (1, 1)


def test_least_recently_used_entry_goes_first() -> None:
    cache = ResponseCache(max_entries=2, max_bytes=1_000)
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.get("a")
    cache.put("c", b"3")
    assert cache.get("b") is None
    assert cache.get("a") == b"1"
    assert cache.get("c") == b"3"


def test_total_size_is_bounded() -> None:
    cache = ResponseCache(max_entries=100, max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"123456")
    assert cache.get("a") is None
    assert cache.size == 6
    cache.put("huge", b"x" * 11)  # larger than the whole cache: never kept
    assert cache.get("huge") is None
    assert cache.size == 6


def test_key_depends_on_code_and_output() -> None:
    keys = {
        cache_key(GraphRequest(code="x = 1")),
        cache_key(GraphRequest(code="x = 1 ")),
        cache_key(GraphRequest(code="x = 1", output="x")),
    }
    assert len(keys) == 3
    assert cache_key(GraphRequest(code="x = 1")) == cache_key(GraphRequest(code="x = 1"))


def test_a_drawing_is_kept_by_its_dot_apart_from_the_answer(client: TestClient) -> None:
    """Two programs that differ only by a comment: two answers, each complete; the drawing
    a layout process made for the first (a view of it) serves the second. A job process's
    own layout is never kept for others (tests/test_job_layout.py)."""
    code = "import torch\nw = torch.tensor([1.0, 2.0], requires_grad=True)\nloss = (w * w).sum()\n"
    layout = client.app.state.services.layout  # type: ignore[attr-defined]
    first = client.post("/api/graph", json={"code": code + "# first"}).json()
    view = {"shape": first["shape"], "view": first["view"]}
    assert client.post("/api/graph/view", json=view).json()["svg"] == first["svg"]
    hits = layout.drawings.hits
    second = client.post("/api/graph", json={"code": code + "# second"}).json()
    assert layout.drawings.hits == hits + 1
    assert second["svg"] == first["svg"]
    assert second["dot"] == first["dot"]
    assert second["nodes"] == first["nodes"]  # the JSON is the program's own, complete
    assert all(node["grad"] is not None for node in second["nodes"])


def test_a_shape_token_is_not_a_hash_anyone_can_make() -> None:
    """The token names a kept graph to POST /api/graph/view: were it the program's plain
    hash, anyone who guessed a program could tell whether it ran lately, and draw it."""
    request = GraphRequest(code="secret = 4.2")
    plain = request.model_dump_json(exclude={"include", "view"}).encode()
    assert shape_key(request) != hashlib.sha256(plain).hexdigest()
    assert shape_key(request) == shape_key(GraphRequest(code="secret = 4.2"))
    assert shape_key(request) != shape_key(GraphRequest(code="secret = 4.3"))


def test_kept_graphs_are_bounded_by_the_numbers_they_hold() -> None:
    """A kept graph costs the server its nodes and edges and every number of their values
    and gradients: 10 nodes of 100-element tensors count far more than 10."""
    small = _shape([1.0], nodes=10)
    wide = _shape([0.5] * 100, nodes=10)
    assert items(small.nodes, small.edges) == 10 * 3
    assert items(wide.nodes, wide.edges) == 10 * 201
    store = ShapeStore(max_entries=8, max_items=1_000, drawings=ResponseCache(1, 1))
    store.put("small", small)
    store.put("wide", wide)  # 2,010 items: more than the store holds, so not kept
    assert store.get("small") is small
    assert store.get("wide") is None


def _shape(values: list[float], nodes: int) -> GraphShape:
    node: dict[str, Any] = {"op": "MulBackward0", "kind": "op", "variables": [], "saved": {}}
    node |= {"shape": [len(values)], "dtype": "float32", "value": values, "grad": values}
    return GraphShape(
        root=0,
        nodes=[NodeInfo(id=n, backward_step=None, **node) for n in range(nodes)],
        edges=[],
    )
