"""The seed's graph as SVG: ids and classes come through, labels read as PyTorch prints
numbers, and nothing links anywhere, whatever the labels hold."""

from typing import Any
from xml.etree import ElementTree

import pytest

from app.contract.schemas import EdgeInfo, GraphData, GraphRequest, GraphShape, NodeInfo
from app.contract.settings import Limits
from app.contract.text import format_number, format_tensor
from app.server.layout import LayoutService
from app.server.render import build_dot
from app.worker.evaluate import evaluate
from tests.graphs import described
from tests.loops import on_a_loop
from tests.seed_cells import CHAIN_RULE_LESSON

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def chain_rule() -> GraphData:
    return evaluate(GraphRequest(code=CHAIN_RULE_LESSON), Limits())


def render(layout: LayoutService, dot: str) -> str:
    svg = on_a_loop(layout.render(dot, timeout_s=30)).svg
    assert svg is not None
    return svg


def test_svg_has_node_ids_classes_and_legend(chain_rule: GraphData, layout: LayoutService) -> None:
    root = ElementTree.fromstring(render(layout, build_dot(chain_rule)))
    groups = {g.get("id"): g.get("class") for g in root.iter(f"{SVG}g")}
    assert groups["node-0"] == "node node-root"
    assert groups["node-1"] == "node node-op"
    assert groups["node-2"] == "node node-leaf"
    assert groups["edge-1-0-0"] == "edge grad-edge"
    assert "legend" in groups
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for words in (
        "SinBackward0",
        "PowBackward0",
        "grad -5.4668",
        "value 0.4121",
        "self = 3",
        "exponent = 2",
        "leaf tensor",
        # the local derivative beside the gradient it made, and the node's gradient named
        # as the derivative it is (not .grad)
        "× 6 = 2x",  # noqa: RUF001 - the times sign
        "× -0.9111 = cos(y)",  # noqa: RUF001 - the times sign
        "dz/dx = -5.4668",
        "dz/dy = -0.9111",
    ):
        assert words in text


def test_no_links_are_ever_built(chain_rule: GraphData, layout: LayoutService) -> None:
    dot = build_dot(chain_rule)
    for attribute in ("URL", "href", "tooltip"):
        assert attribute not in dot
    svg = render(layout, dot)
    assert "<a " not in svg
    assert "javascript:" not in svg


def test_labels_are_escaped(chain_rule: GraphData, layout: LayoutService) -> None:
    hostile = chain_rule.model_copy(deep=True)
    hostile.nodes[0].op = '<B>x</B>"]; evil [URL="javascript:alert(1)'
    dot = build_dot(described(hostile))
    assert "&lt;B&gt;" in dot
    assert "<a " not in render(layout, dot)


def test_empty_graph_renders(layout: LayoutService) -> None:
    graph = evaluate(GraphRequest(code="x = 1"), Limits())
    assert render(layout, build_dot(graph)).startswith("<svg")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-5.466781, "-5.4668"),
        (3.0, "3"),
        (3.00001, "3.0000"),  # not whole, though it rounds to a whole number (PyTorch: 3.0000)
        (9, "9"),
        (0.41211849, "0.4121"),
        (1e-7, "1.0000e-07"),
        (123456.0, "123456"),  # whole numbers in full, as the page prints them
        (123456.5, "1.2346e+05"),
        (-0.0, "-0"),
        ("nan", "nan"),
        (True, "True"),
    ],
)
def test_numbers_print_as_pytorch_does(value: float | str | bool, text: str) -> None:
    assert format_number(value) == text


def test_tensor_summaries() -> None:
    assert format_tensor([[1.0, 2.5], [3.0, 4.0], [5.0, 6.0]]) == "[1, 2.5000, 3, 4, …]"
    assert format_tensor(None) == "None"
    summary = {"shape": [200], "numel": 200, "min": -1.0, "max": 2.0, "mean": 0.5, "head": []}
    assert format_tensor(summary) == "min -1, max 2, mean 0.5000"


def test_edge_labels_are_short(layout: LayoutService) -> None:
    """Two items, or a large tensor's shape and mean: the rest is in the Details panel."""
    summary = {"shape": [32, 16], "numel": 512, "min": -1.0, "max": 2.0, "mean": 0.5, "head": []}
    common: dict[str, Any] = {"variables": [], "dtype": "float32", "value": None, "saved": {}}
    nodes = [
        NodeInfo(
            id=0, op="SumBackward0", kind="root", shape=[], grad=1.0, backward_step=1, **common
        ),
        NodeInfo(
            id=1,
            op="ReluBackward0",
            kind="op",
            shape=[32, 16],
            grad=summary,
            backward_step=2,
            **common,
        ),
        NodeInfo(
            id=2,
            op="AccumulateGrad",
            kind="leaf",
            shape=[3],
            grad=[1.0, 2.0, 3.0],
            backward_step=3,
            **common,
        ),
    ]
    edges = [
        EdgeInfo(source=1, target=0, input_nr=0, grad=summary),
        EdgeInfo(source=2, target=1, input_nr=0, grad=[1.0, 2.0, 3.0]),
    ]
    dot = build_dot(described(GraphShape(root=0, nodes=nodes, edges=edges)))
    assert 'label="grad 32×16, mean 0.5000"' in dot  # noqa: RUF001 - the times sign
    assert 'label="grad [1, 2, …]"' in dot
    assert on_a_loop(layout.render(dot, 5.0)).svg is not None
