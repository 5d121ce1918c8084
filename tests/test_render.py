"""DOT building: nodes with many uses are drawn once per use, very large graphs whole."""

import re

import pytest

from app.contract.graphs import layers
from app.contract.schemas import EdgeInfo, GraphRequest, GraphShape
from app.contract.settings import Limits
from app.server.render import DOT_MAX_BOXES, MAX_DRAWN_BOXES, SPLIT_FAN_OUT, build_dot
from app.server.spread_uses import fit
from app.worker.evaluate import evaluate
from tests.graphs import described, node, shared_weight_chain


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


def test_very_large_graph_is_drawn_whole_with_its_boxes_placed() -> None:
    graph = shared_weight_chain(DOT_MAX_BOXES)
    dot = build_dot(graph)
    for box in graph.nodes:
        assert f'id="node-{box.id}"' in dot
    for edge in graph.edges:
        assert dot.count(f'id="edge-{edge.source}-{edge.target}-{edge.input_nr}"') == 1
    assert "elided" not in dot
    assert 'layout="nop2"' in dot.splitlines()[1]  # beyond dot: placed by app/server/placement.py
    boxes, _ = drawn(dot)
    assert len(re.findall(r' pos="-?\d+,-?\d+"', dot)) == boxes + 1  # and the legend


def test_small_graph_is_drawn_whole_by_dot() -> None:
    graph = shared_weight_chain(2)
    spread = fit(graph, SPLIT_FAN_OUT, MAX_DRAWN_BOXES)
    assert (spread.nodes, spread.edges) == (graph.nodes, graph.edges)
    dot = build_dot(graph)
    assert " pos=" not in dot
    assert "layout=" not in dot


def hub_chain(steps: int) -> GraphShape:
    """Root 0, op nodes 1..steps in a chain, each also fed by hub H (an op, id steps+1: a
    transpose of the leaf W, id steps+2), as `Wt = W.t()` before a loop makes it."""
    hub, leaf = steps + 1, steps + 2
    nodes = [node(0, "root"), *(node(i, "op") for i in range(1, steps + 1))]
    nodes += [node(hub, "op", "TBackward0"), node(leaf, "leaf")]
    nodes[hub].variables = ["Wt"]
    edges = [EdgeInfo(source=i + 1, target=i, input_nr=0, grad=1.0) for i in range(steps)]
    edges += [EdgeInfo(source=hub, target=i, input_nr=1, grad=2.0) for i in range(1, steps + 1)]
    edges.append(EdgeInfo(source=leaf, target=hub, input_nr=0, grad=1.0))
    return described(GraphShape(root=0, nodes=nodes, edges=edges))


def test_shared_operation_keeps_its_box_and_first_use_and_the_rest_get_references() -> None:
    steps = 10
    graph = hub_chain(steps)
    hub = steps + 1
    dot = build_dot(graph)
    boxes = re.findall(rf"^\t(n{hub}(?:c\d+)?) \[(.*)\]$", dot, re.MULTILINE)
    assert len(boxes) == steps
    own = [attrs for name, attrs in boxes if name == f"n{hub}"]
    assert len(own) == 1
    assert "TBackward0 → Wt (use 1 of 10)" in own[0]
    references = [attrs for name, attrs in boxes if name != f"n{hub}"]
    assert all("node-reference" in attrs for attrs in references)
    assert all(re.search(rf'id="node-{hub}-copy\d+"', attrs) for attrs in references)
    assert "= Wt: TBackward0 (use 10 of 10)" in dot
    # the hub keeps its input and the use furthest from the root (the loop's first step)
    assert f"n{hub + 1} -> n{hub} " in dot
    assert f"n{hub} -> n{steps} " in dot
    for edge in graph.edges:  # every edge once, each reference the source of one
        assert dot.count(f'id="edge-{edge.source}-{edge.target}-{edge.input_nr}"') == 1
    sources = re.findall(rf"\b(n{hub}(?:c\d+)?) -> ", dot)
    assert len(sources) == len(set(sources)) == steps


def test_labels_are_quoted() -> None:
    graph = shared_weight_chain(1)
    graph.nodes[0].variables = ['a"b\\c<d>']
    dot = build_dot(described(graph))
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
    """Boxes (every copy and reference) and edges `dot` is given, legend aside."""
    boxes = re.findall(r"^\t(?:n\d+(?:c\d+)?) \[", dot, re.MULTILINE)
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
    return described(GraphShape(root=0, nodes=nodes, edges=edges))


def test_one_leaf_used_sixty_thousand_times_is_one_edge_in_the_drawing() -> None:
    graph = fan(leaves=1, ops=1, uses=60_000)
    dot = build_dot(graph)
    assert drawn(dot) == (3, 2)
    assert "60,000 edges" in dot
    assert len(dot) < 10_000
    assert len(graph.edges) == 60_001  # the JSON keeps them all


@pytest.mark.parametrize(("leaves", "ops"), [(250, 250), (40, 460), (499, 1)])
def test_drawing_keeps_every_node_and_edge_with_copies_bounded(leaves: int, ops: int) -> None:
    graph = fan(leaves, ops)
    dot = build_dot(graph)
    boxes, edges = drawn(dot)
    assert boxes <= MAX_DRAWN_BOXES
    assert edges == len(graph.edges)
    spread = fit(graph, SPLIT_FAN_OUT, MAX_DRAWN_BOXES)
    assert spread.drawn_nodes() == boxes
    assert spread.drawn_edges() == edges
    assert {n.id for n in spread.nodes} == {n.id for n in graph.nodes}


def test_shared_weight_of_a_long_loop_counts_every_copy() -> None:
    graph = shared_weight_chain(1_000)
    dot = build_dot(graph)
    boxes, edges = drawn(dot)
    assert boxes == 1_000 + 1_000 + 1  # the ops and root, one copy per use
    assert edges == len(graph.edges)
    assert "-copy" in dot  # split: one weight spanning every rank is what dot is slow on


def test_a_tensor_with_many_names_shows_a_few() -> None:
    graph = shared_weight_chain(1)
    graph.nodes[-1].variables = [f"w{i}" for i in range(5_000)]
    dot = build_dot(described(graph))
    assert "w0, w1, w2 and 4,997 more" in dot
    assert "w3," not in dot
