"""DOT building: high-fan-out leaves are split per use, very large graphs keep both ends."""

import re

from app.elide import elide
from app.evaluate import evaluate
from app.render import MAX_DRAWN_NODES, SPLIT_FAN_OUT, build_dot, layers
from app.schemas import GraphRequest
from app.settings import Limits
from tests.graphs import shared_weight_chain


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
    assert f"{drawing.hidden:,} more nodes" in dot


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
