"""DOT building: high-fan-out leaves are split per use, very large graphs keep both ends."""

import re

import pytest

from app.elide import elide, fit
from app.evaluate import evaluate
from app.render import MAX_DRAWN_EDGES, MAX_DRAWN_NODES, SPLIT_FAN_OUT, build_dot, layers
from app.schemas import EdgeInfo, GraphRequest, GraphShape
from app.settings import Limits
from tests.graphs import node, shared_weight_chain


def test_shared_leaf_is_drawn_once_per_use_and_keeps_every_edge() -> None:
    graph = shared_weight_chain(10)
    dot = build_dot(graph)
    leaf = graph.nodes[-1].id
    copies = re.findall(rf'id="node-{leaf}(?:-copy\d+)?"', dot)
    assert len(copies) == 10
    assert f'id="node-{leaf}"' in dot  # the page still finds the node by its own id
    for edge in graph.edges:
        assert dot.count(f'id="edge-{edge.source}-{edge.target}-{edge.input_nr}"') == 1
    # each copy is the source of exactly one edge
    sources = re.findall(rf"\b(n{leaf}(?:c\d+)?) -> ", dot)
    assert len(sources) == len(set(sources)) == 10


def test_leaf_with_few_uses_stays_one_node() -> None:
    dot = build_dot(shared_weight_chain(SPLIT_FAN_OUT))
    assert "-copy" not in dot


def test_very_large_graph_draws_both_ends_and_a_gap() -> None:
    graph = shared_weight_chain(MAX_DRAWN_NODES * 2)
    drawing = elide(graph, MAX_DRAWN_NODES)
    drawn = {node.id for node in drawing.nodes}
    assert len(drawn) == MAX_DRAWN_NODES
    assert drawing.hidden == len(graph.nodes) - MAX_DRAWN_NODES
    assert graph.root in drawn
    assert 1 in drawn
    assert MAX_DRAWN_NODES * 2 in drawn
    assert all(e.source in drawn and e.target in drawn for e in drawing.edges)
    assert drawing.into_gap
    assert drawing.out_of_gap
    dot = build_dot(graph)
    assert 'id="elided"' in dot
    fitted = fit(graph, MAX_DRAWN_NODES, MAX_DRAWN_EDGES, SPLIT_FAN_OUT)
    assert f"{fitted.hidden:,} more nodes" in dot


def test_small_graph_is_drawn_whole() -> None:
    graph = shared_weight_chain(5)
    drawing = elide(graph, MAX_DRAWN_NODES)
    assert (drawing.nodes, drawing.edges, drawing.hidden) == (graph.nodes, graph.edges, 0)
    assert "elided" not in build_dot(graph)


def test_labels_are_quoted() -> None:
    graph = shared_weight_chain(1)
    graph.nodes[0].variables = ['a"b\\c<d>']
    dot = build_dot(graph)
    assert "a&quot;b\\c&lt;d&gt;" in dot


def test_operations_are_titled_with_their_layer() -> None:
    code = (
        "import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), "
        "nn.Linear(8, 2))\nloss = model(torch.ones(3, 4)).sum()\n"
    )
    graph = evaluate(GraphRequest(code=code), Limits())
    by_id = {node.id: node.op for node in graph.nodes}
    titled = sorted((layer, by_id[node]) for node, layer in layers(graph).items())
    assert titled == [
        ("model.0", "AddmmBackward0"),
        ("model.0", "TBackward0"),
        ("model.2", "AddmmBackward0"),
        ("model.2", "TBackward0"),
    ]
    assert "AddmmBackward0 (model.0)" in build_dot(graph)


def drawn(dot: str) -> tuple[int, int]:
    """Boxes (every copy, and the gap) and edges `dot` is given, legend aside."""
    boxes = re.findall(r"^\t(?:n\d+(?:c\d+)?|elided) \[", dot, re.MULTILINE)
    edges = re.findall(r"^\t\S+ -> ", dot, re.MULTILINE)
    return len(boxes), len(edges)


def fan(leaves: int, ops: int, uses: int = 1) -> GraphShape:
    """Root 0 sums ops 1..ops; every op takes every leaf `uses` times."""
    first_leaf = ops + 1
    nodes = [node(0, "root"), *(node(i, "op") for i in range(1, ops + 1))]
    nodes += [node(first_leaf + j, "leaf") for j in range(leaves)]
    edges = [EdgeInfo(source=i, target=0, input_nr=i - 1, grad=1.0) for i in range(1, ops + 1)]
    edges += [
        EdgeInfo(source=first_leaf + j, target=i, input_nr=j * uses + k, grad=1.0)
        for i in range(1, ops + 1)
        for j in range(leaves)
        for k in range(uses)
    ]
    return GraphShape(root=0, nodes=nodes, edges=edges)


def test_one_leaf_used_sixty_thousand_times_is_one_edge_in_the_drawing() -> None:
    graph = fan(leaves=1, ops=1, uses=60_000)
    dot = build_dot(graph)
    assert drawn(dot) == (3, 2)
    assert "60,000 edges" in dot
    assert len(dot) < 10_000
    assert len(graph.edges) == 60_001  # the JSON keeps them all


@pytest.mark.parametrize(("leaves", "ops"), [(250, 250), (40, 460), (499, 1)])
def test_drawing_is_bounded_with_every_copy_counted(leaves: int, ops: int) -> None:
    graph = fan(leaves, ops)
    dot = build_dot(graph)
    boxes, edges = drawn(dot)
    assert boxes <= MAX_DRAWN_NODES
    assert edges <= MAX_DRAWN_EDGES
    assert len(dot) < 2_000_000
    drawing = fit(graph, MAX_DRAWN_NODES, MAX_DRAWN_EDGES, SPLIT_FAN_OUT)
    assert drawing.drawn_nodes() == boxes
    assert drawing.drawn_edges() == edges


def test_shared_weight_of_a_long_loop_counts_every_copy() -> None:
    graph = shared_weight_chain(1_000)
    dot = build_dot(graph)
    boxes, edges = drawn(dot)
    assert boxes <= MAX_DRAWN_NODES
    assert edges <= MAX_DRAWN_EDGES
    assert "-copy" in dot  # still split: one weight spanning every rank is what dot is slow on


def test_a_tensor_with_many_names_shows_a_few() -> None:
    graph = shared_weight_chain(1)
    graph.nodes[-1].variables = [f"w{i}" for i in range(5_000)]
    dot = build_dot(graph)
    assert "w0, w1, w2 and 4,997 more" in dot
    assert "w3," not in dot
