"""app/contract/text.py: the answer's texts (titles, values and gradients) written once, checked
against what PyTorch prints and holds, and shown as they are by the drawing."""

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from app.contract.schemas import GraphData, GraphRequest, NodeInfo
from app.contract.settings import Limits
from app.contract.text import format_number, format_tensor, node_title, shape_text
from app.server.render import build_dot
from app.worker.evaluate import evaluate
from tests.programs import PROGRAMS
from tests.reference import Reference, run_reference
from tests.test_module_groups import RNN_CELL

CASES = json.loads((Path(__file__).parent / "text_cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: json.dumps(case["value"])[:40])
def test_values_read_as_the_page_writes_them(case: dict[str, Any]) -> None:
    """static/format.js is held to the same table (tests/js/format.test.js)."""
    assert format_tensor(case["value"], case.get("limit", 4)) == case["text"]


@pytest.mark.parametrize("value", [-5.466781, 0.41211849, 2.5, -0.25, 1.0e-3, 12345.678])
def test_a_number_is_what_pytorch_prints(value: float) -> None:
    """PyTorch prints a scalar tensor with 4 decimals: tensor(-5.4668)."""
    printed = str(torch.tensor(value, dtype=torch.float64))
    assert printed == f"tensor({format_number(value)}, dtype=torch.float64)"


def node(kind: str, op: str, variables: list[str]) -> NodeInfo:
    return NodeInfo(
        id=0,
        op=op,
        kind=kind,
        variables=variables,
        shape=[],
        dtype="float32",
        value=None,
        grad=None,
        saved={},
        backward_step=None,
    )


def test_titles() -> None:
    assert node_title(node("leaf", "AccumulateGrad", ["x"])) == "x"
    assert node_title(node("leaf", "AccumulateGrad", [])) == "leaf"
    assert node_title(node("op", "PowBackward0", ["y", "y2"])) == "PowBackward0 → y, y2"
    assert node_title(node("root", "SumBackward0", [])) == "SumBackward0"
    assert node_title(node("op", "AddmmBackward0", []), "model.0") == "AddmmBackward0 (model.0)"
    assert node_title(node("const", "constant", ["k"])) == "k (cut, no grad)"
    assert node_title(node("const", "constant", [])) == "constant (cut, no grad)"
    many = [f"w{i}" for i in range(5_000)]
    assert node_title(node("leaf", "AccumulateGrad", many)) == "w0, w1, w2 and 4,997 more"


def items(text: str) -> list[float]:
    """The numbers of a value's text: "[1, 2.5000, …]" or "-5.4668"."""
    return [float(item) for item in re.findall(r"-?[\d.]+(?:e[+-]\d+)?|nan|-?inf", text)]


def assert_shows(text: str, tensor: torch.Tensor | None, what: str) -> None:
    """`text` shows the first items of `tensor` to 4 decimals (5 digits when scientific), and
    says None where PyTorch holds None."""
    if tensor is None:
        assert text == "None", what
        return
    flat = tensor.detach().double().reshape(-1)
    shown = items(text.removesuffix(", …]"))
    assert len(shown) == min(4, flat.numel()), (what, text)
    for number, expected in zip(shown, flat.tolist(), strict=False):
        assert math.isclose(number, expected, rel_tol=1e-4, abs_tol=5e-5), (what, text, expected)


def tensor_named(reference: Reference, name: str) -> Any:
    """A name as the answer writes it: a variable, or a module's parameter by its path."""
    head, _, path = name.partition(".")
    found = reference.names.get(head if path else name)
    if path and isinstance(found, torch.nn.Module):
        return found.get_parameter(path)
    return None if path else found


def run(code: str) -> tuple[GraphData, Reference]:
    return evaluate(GraphRequest(code=code), Limits()), run_reference(code)


@pytest.mark.parametrize(
    "program",
    ["seed_chain_rule", "mlp_sequential", "softmax_cross_entropy_by_hand", "rnn_loop"],
)
def test_every_node_says_what_pytorch_holds(program: str) -> None:
    """Each named node's title names PyTorch's grad_fn and the names bound to it, its value
    text shows the tensor, its gradient text d(root)/d(it) (a leaf's: what .grad holds after
    the one backward pass), and each edge's gradient text is its gradient's."""
    graph, reference = run(PROGRAMS[program])
    checked = 0
    for info in graph.nodes:
        for name in info.variables[:1]:
            tensor = tensor_named(reference, name)
            if not isinstance(tensor, torch.Tensor) or tensor.numel() > 100:
                continue
            if info.kind == "leaf":
                assert info.title.startswith(name), info.title
                grad = tensor.grad
            else:
                assert tensor.grad_fn is not None
                op = type(tensor.grad_fn).__name__
                assert info.title.startswith(f"{op} → {name}"), info.title
                grad = reference.graph_grads.get(name)
            assert_shows(info.value_text, tensor, f"{program}: value of {name}")
            assert_shows(info.grad_text, grad, f"{program}: gradient of {name}")
            checked += 1
    assert checked >= 3
    for edge in graph.edges:
        assert edge.grad_text == format_tensor(edge.grad)


def test_a_large_tensor_is_summarised_as_pytorch_holds_it() -> None:
    """Its min, max and mean, each as PyTorch prints a number (its shape is shown beside)."""
    code = (
        "import torch\nw = torch.linspace(-1, 2, 200, requires_grad=True)\nloss = (w * w).sum()\n"
    )
    graph, reference = run(code)
    (leaf,) = [info for info in graph.nodes if info.variables == ["w"]]
    for text, tensor in (
        (leaf.value_text, reference.names["w"]),
        (leaf.grad_text, reference.grads["w"]),
    ):
        assert tensor is not None
        assert re.fullmatch(r"min \S+, max \S+, mean \S+", text), text
        expected = [tensor.min().item(), tensor.max().item(), tensor.mean().item()]
        for number, value in zip(items(text), expected, strict=True):
            assert math.isclose(number, value, rel_tol=1e-4, abs_tol=5e-5), (text, expected)


def test_a_constant_is_titled_as_cut() -> None:
    graph, reference = run(PROGRAMS["no_grad_constant"])
    (constant,) = [info for info in graph.nodes if info.kind == "const"]
    assert constant.title == "k (cut, no grad)"
    assert_shows(constant.value_text, reference.names["k"], "value of k")
    assert constant.grad_text == "None"  # no gradient flows into it
    assert {edge.grad_text for edge in graph.edges if edge.cut} == {"None"}


def test_module_calls_are_titled_by_their_call() -> None:
    graph = evaluate(GraphRequest(code=RNN_CELL), Limits())
    titles = [group.title for group in graph.groups if group.module == "cell"]
    assert titles == [f"cell (RNNCell), call {call} of 12" for call in range(1, 13)]
    code = "import torch\nfrom torch import nn\nm = nn.Linear(2, 1)\nout = m(torch.ones(2)).sum()\n"
    (once,) = evaluate(GraphRequest(code=code), Limits()).groups
    assert once.title == "m (Linear)"


def test_operations_are_titled_with_their_layer() -> None:
    code = (
        "import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), "
        "nn.Linear(8, 2))\nloss = model(torch.ones(3, 4)).sum()\n"
    )
    graph = evaluate(GraphRequest(code=code), Limits())
    titles = sorted(info.title for info in graph.nodes if info.op == "AddmmBackward0")
    assert titles == ["AddmmBackward0 (model.0)", "AddmmBackward0 (model.2)"]


def test_a_gradient_is_named_d_root_d_node() -> None:
    """Not .grad, which only a leaf keeps: the gradient of the root with respect to it."""
    graph, _ = run(PROGRAMS["seed_chain_rule"])
    assert sorted(info.grad_name for info in graph.nodes) == ["dz/dx", "dz/dy", "dz/dz"]
    unnamed = "import torch\nx = torch.tensor(2.0, requires_grad=True)\n(x.exp() * 2).backward()\n"
    names = {info.op: info.grad_name for info in run(unnamed)[0].nodes}
    assert names == {
        "MulBackward0": "d(root)/d(this)",
        "ExpBackward0": "d(root)/d(this)",
        "AccumulateGrad": "d(root)/dx",
    }


def test_a_shape_is_written_as_pytorch_sizes_read() -> None:
    """torch.Size, as the drawing and the Details panel show it."""
    code = "import torch\nW = torch.ones(3, 4, requires_grad=True)\nloss = (W * 2).sum()\n"
    graph = evaluate(GraphRequest(code=code), Limits())
    shapes = {info.op: info.shape_text for info in graph.nodes}
    reference = torch.ones(3, 4)
    assert shapes["AccumulateGrad"] == "×".join(map(str, reference.shape))  # noqa: RUF001
    assert shapes["SumBackward0"] == "scalar"
    assert shape_text(None) == "unknown"


def test_the_drawing_shows_the_answers_texts() -> None:
    graph, _ = run(PROGRAMS["seed_chain_rule"])
    dot = html.unescape(build_dot(graph))
    for info in graph.nodes:
        assert info.title in dot
        if info.value is not None:
            assert f"value {info.value_text}" in dot
        assert f"{info.grad_name} = {info.grad_text}" in dot
        assert info.shape_text in dot
