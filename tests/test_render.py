"""DOT and SVG: ids and classes come through, nothing links anywhere, layout is time-limited."""

from xml.etree import ElementTree

import pytest

from app.evaluate import evaluate
from app.render import build_dot, format_number, format_tensor, render_svg
from app.schemas import GraphData, GraphRequest
from app.settings import Limits
from tests.seed_cells import CHAIN_RULE_LESSON

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def chain_rule() -> GraphData:
    return evaluate(GraphRequest(code=CHAIN_RULE_LESSON), Limits())


def test_svg_has_node_ids_classes_and_legend(chain_rule: GraphData) -> None:
    rendered = render_svg(build_dot(chain_rule), timeout_s=10)
    assert rendered.svg is not None
    root = ElementTree.fromstring(rendered.svg)
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
    ):
        assert words in text


def test_no_links_are_ever_built(chain_rule: GraphData) -> None:
    dot = build_dot(chain_rule)
    for attribute in ("URL", "href", "tooltip"):
        assert attribute not in dot
    svg = render_svg(dot, timeout_s=10).svg
    assert svg is not None
    assert "<a " not in svg
    assert "javascript:" not in svg


def test_labels_are_escaped(chain_rule: GraphData) -> None:
    hostile = chain_rule.model_copy(deep=True)
    hostile.nodes[0].op = '<B>x</B>"]; evil [URL="javascript:alert(1)'
    dot = build_dot(hostile)
    assert "&lt;B&gt;" in dot
    svg = render_svg(dot, timeout_s=10).svg
    assert svg is not None
    assert "<a " not in svg


def test_layout_over_its_time_limit_gives_a_warning_not_a_hang(chain_rule: GraphData) -> None:
    rendered = render_svg(build_dot(chain_rule), timeout_s=0.000_001)
    assert rendered.svg is None
    assert rendered.warning is not None
    assert "JSON still has every node" in rendered.warning


def test_empty_graph_renders() -> None:
    graph = evaluate(GraphRequest(code="x = 1"), Limits())
    assert render_svg(build_dot(graph), timeout_s=10).svg is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-5.466781, "-5.4668"),
        (3.0, "3"),
        (9, "9"),
        (0.41211849, "0.4121"),
        (1e-7, "1.0000e-07"),
        (123456.0, "1.2346e+05"),
        ("nan", "nan"),
        (True, "True"),
    ],
)
def test_numbers_print_as_pytorch_does(value: float | str | bool, text: str) -> None:
    assert format_number(value) == text


def test_tensor_summaries() -> None:
    assert format_tensor([[1.0, 2.5], [3.0, 4.0], [5.0, 6.0]]) == "[1, 2.5000, 3, 4, …]"
    assert format_tensor(None) == "—"
    summary = {"shape": [200], "numel": 200, "min": -1.0, "max": 2.0, "mean": 0.5, "head": []}
    assert format_tensor(summary) == "min -1, max 2, mean 0.5000"
