"""Programs with unusual tensors (complex, sparse, reshaped through .data, freed graphs) that
must be answered, with PyTorch's numbers, and never make capture raise or a worker fail."""

import warnings
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.contract.errors import ProgramError
from app.contract.schemas import GraphData, GraphRequest
from app.contract.settings import Limits
from app.worker import capture, chainrule, gradcheck, passes, tape
from app.worker.evaluate import evaluate
from app.worker.json_forms import JsonFormMemo, dense_coo, json_form
from tests.reference import assert_close, run_reference
from tests.security.conftest import assert_problem

HEAD = "import torch\nimport torch.nn.functional as F\n"

COMPLEX_ROOT_BY_SERVER = HEAD + "z = torch.tensor(1+2j, requires_grad=True)\ny = z * z\n"
COMPLEX_LEAF_REAL_ROOT = (
    HEAD + "z = torch.tensor([1+2j, 3-1j], requires_grad=True)\n"
    "y = (z * z).abs().sum()\ny.backward()\n"
)
SPARSE_EMBEDDING = (
    HEAD + "W = torch.randn(6, 3, requires_grad=True)\nidx = torch.tensor([1, 2, 1])\n"
    "y = F.embedding(idx, W, sparse=True).sum()\ny.backward()\n"
)
SPARSE_EMBEDDING_OF_WIDTH_ONE = (
    HEAD + "W = torch.randn(5, 1, requires_grad=True)\n"
    "for i in range(2):\n"
    "    F.embedding(torch.tensor([2, 2, i]), W, sparse=True).sum().backward()\n"
)
SPARSE_EMBEDDING_TWICE_BY_SERVER = (
    HEAD + "W = torch.randn(6, 3, requires_grad=True)\nidx = torch.tensor([4, 0])\n"
    "(F.embedding(idx, W, sparse=True) * 2).sum().backward()\n"
    "y = (F.embedding(torch.tensor([0, 0, 5]), W, sparse=True) ** 2).sum()\n"
)
SPARSE_MODULE_WITH_SGD = (
    HEAD + "m = torch.nn.Embedding(5, 2, sparse=True)\n"
    "opt = torch.optim.SGD(m.parameters(), lr=0.5)\n"
    "for i in range(2):\n"
    "    opt.zero_grad()\n"
    "    loss = (m(torch.tensor([i, 3])) ** 2).sum()\n"
    "    loss.backward()\n"
    "    opt.step()\n"
)
RESHAPED_THROUGH_DATA = (
    HEAD + "x = torch.ones(3, requires_grad=True)\ny = (x * 0).sum()\ny.backward()\n"
    "x.data = torch.zeros(5)\n"
)
RETAIN_GRAPH_THRICE = (
    HEAD + "x = torch.tensor([1.0, 2.0], requires_grad=True)\ny = (x * x).sum()\n"
    "y.backward(retain_graph=True)\ny.backward(retain_graph=True)\ny.backward()\n"
)
ZERO_ELEMENTS = HEAD + "x = torch.ones(0, requires_grad=True)\ny = x * 2\n"
COMPLEX_PARTS = (
    HEAD + "z = torch.tensor([1+2j], requires_grad=True)\ny = (z.real * z.imag).sum()\n"
    "y.backward()\n"
)
COMPLEX_SCALAR_CHAIN = (
    HEAD + "z = torch.tensor(1+2j, requires_grad=True)\nw = z * 2\ny = w.abs()\ny.backward()\n"
)
HALF_AND_BFLOAT = (
    HEAD + "x = torch.tensor([1.0, 2.0], dtype=torch.float16, requires_grad=True)\n"
    "b = torch.tensor(3.0, dtype=torch.bfloat16, requires_grad=True)\n"
    "y = (x * x).sum() + torch.sin(b * b)\ny.backward()\n"
)
BACKWARD_INPUTS_AND_GRAD = (
    HEAD + "x = torch.tensor(2.0, requires_grad=True)\nw = torch.tensor(3.0, requires_grad=True)\n"
    "y = x ** 3 * w\ny.backward(inputs=[x], retain_graph=True)\n"
    "(g,) = torch.autograd.grad(y, w, retain_graph=True)\ny.backward()\n"
)
NOT_FINITE = (
    HEAD + "x = torch.tensor([0.0, 1.0], requires_grad=True)\n"
    "y = (x.log() * 0 + x.sqrt()).sum()\ny.backward()\n"
)

ANSWERED = {
    "complex_root_by_server": COMPLEX_ROOT_BY_SERVER,
    "complex_leaf_real_root": COMPLEX_LEAF_REAL_ROOT,
    "sparse_embedding": SPARSE_EMBEDDING,
    "sparse_embedding_of_width_one": SPARSE_EMBEDDING_OF_WIDTH_ONE,
    "sparse_embedding_twice_by_server": SPARSE_EMBEDDING_TWICE_BY_SERVER,
    "sparse_module_with_sgd": SPARSE_MODULE_WITH_SGD,
    "retain_graph_thrice": RETAIN_GRAPH_THRICE,
    "zero_elements": ZERO_ELEMENTS,
    "complex_parts": COMPLEX_PARTS,
    "complex_scalar_chain": COMPLEX_SCALAR_CHAIN,
    "half_and_bfloat": HALF_AND_BFLOAT,
    "backward_inputs_and_grad": BACKWARD_INPUTS_AND_GRAD,
    "not_finite": NOT_FINITE,
}


def run(code: str, output: str | None = None) -> GraphData:
    return evaluate(GraphRequest(code=code, output=output), Limits())


def as_complex(value: Any) -> torch.Tensor:
    """The product's JSON for a tensor that may hold complex numbers ("(1+2j)")."""

    def restore(item: Any) -> Any:
        if isinstance(item, list):
            return [restore(i) for i in item]
        return complex(item) if isinstance(item, str) else item

    return torch.tensor(restore(value), dtype=torch.complex128)


def plain(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A reference tensor as the product shows it: a sparse one dense."""
    if tensor is None or tensor.layout == torch.strided:
        return tensor
    return dense_coo(tensor)


@pytest.mark.parametrize("name", sorted(ANSWERED))
def test_unusual_tensors_are_answered_with_pytorchs_values(name: str) -> None:
    code = ANSWERED[name]
    graph = run(code)
    # A sparse gradient holds the numbers the dense one does (SGD steps alike); the dense run
    # is the reference, as PyTorch's to_dense() loses a sparse tensor of width 1.
    reference = run_reference(code.replace("sparse=True", "sparse=False"))
    assert not [w for w in graph.warnings if "could not read" in w], graph.warnings
    for variable, info in graph.variables.items():
        expected = plain(reference.grads[variable])
        value = plain(reference.names[variable])
        assert value is not None
        if value.is_complex() or (expected is not None and expected.is_complex()):
            assert torch.allclose(as_complex(info.value), value.to(torch.complex128))
            if expected is None:
                assert info.grad is None, f"{name}: {variable}.grad"
            else:
                assert torch.allclose(as_complex(info.grad), expected.to(torch.complex128))
        else:
            assert_close(info.grad, expected, f"{name}: {variable}.grad")
            assert_close(info.value, value, f"{name}: {variable}")
    passes = [p for p in graph.backward_passes if p.kind in {"backward", "server"}]
    assert len(passes) == len(reference.passes)
    for ours, theirs in zip(passes, reference.passes, strict=True):
        for leaf, (grad, value) in theirs.items():
            if not value.is_complex():
                assert_close(ours.grads[leaf], plain(grad), f"{name}: {leaf}.grad in a pass")


def test_complex_root_backpropagated_by_the_program_is_pytorchs_error() -> None:
    code = HEAD + "z = torch.tensor(1+2j, requires_grad=True)\n(z * z).backward()\n"
    with pytest.raises(ProgramError) as raised:
        run(code)
    assert "real scalar outputs" in raised.value.detail
    assert raised.value.line == 4


def test_complex_root_by_the_server_says_how_it_started() -> None:
    graph = run(COMPLEX_ROOT_BY_SERVER)
    assert any("complex" in w and "ones_like" in w for w in graph.warnings)
    assert as_complex(graph.variables["z"].grad) == torch.tensor(2 - 4j, dtype=torch.complex128)
    assert graph.gradcheck["z"].ok is None
    assert graph.gradcheck["z"].note
    assert graph.chain_rule == {}


def test_sparse_gradients_are_checked_dense_and_said_to_be_sparse() -> None:
    graph = run(SPARSE_EMBEDDING)
    assert any("W.grad is a sparse_coo tensor" in w for w in graph.warnings)
    assert graph.gradcheck["W"].ok is True


def test_leaf_reshaped_through_data_is_refused() -> None:
    """The sandbox keeps a tensor's shape (app/worker/sandbox/tensors.py), so the gradient check
    never meets a leaf whose shape changed after backward."""
    with pytest.raises(ProgramError, match="needs a tensor like the one it replaces"):
        run(RESHAPED_THROUGH_DATA)


def test_integer_output_is_refused_clearly() -> None:
    code = HEAD + "x = torch.ones(3, requires_grad=True)\nn = (x * 2).long()\n"
    with pytest.raises(ProgramError) as raised:
        run(code, output="n")
    assert raised.value.slug == "bad-output"
    graph = run(code)
    assert graph.nodes == []  # the last tensor with a graph: none; said in a warning
    assert graph.warnings


def test_unusual_tensors_have_a_json_form_without_raising() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's warnings about making these kinds
        sparse = torch.sparse_coo_tensor(torch.tensor([[0, 2]]), torch.tensor([1.0, 2.0]), (4,))
        quantized = torch.quantize_per_tensor(torch.tensor([0.5, 1.0]), 0.5, 0, torch.quint8)
        nested = torch.nested.nested_tensor([torch.ones(2), torch.ones(3)])
    assert json_form(sparse) == [1.0, 0.0, 2.0, 0.0]
    assert json_form(quantized) == [0.5, 1.0]
    for form in (json_form(nested), JsonFormMemo()(nested)):
        assert isinstance(form, str)
        assert "nested" in form


def test_a_failure_inside_a_hook_leaves_the_program_as_pytorch_runs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Capture's own failures, wherever they happen, are notes: the program's backward and
    the .grad it leaves are untouched."""

    def broken(*args: Any) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(capture.GraphCapture, "_record", broken)
    code = HEAD + "x = torch.tensor([1.0, 2.0], requires_grad=True)\ny = (x * x).sum()\n"
    graph = run(code + "y.backward()\n")
    assert graph.variables["x"].grad == [2.0, 4.0]
    assert any("could not read" in w for w in graph.warnings)


@pytest.mark.parametrize("part", ["walk", "chain_rule"])
def test_capture_failures_are_notes(part: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise IndexError("boom")

    monkeypatch.setattr(
        capture.GraphCapture if part == "walk" else capture, part, fail, raising=True
    )
    graph = run(RETAIN_GRAPH_THRICE)
    assert graph.variables["x"].grad == [6.0, 12.0]  # three passes, as PyTorch
    assert any("could not read" in w for w in graph.warnings)


@pytest.mark.parametrize("name", sorted(ANSWERED))
def test_unusual_tensors_over_http(name: str, client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": ANSWERED[name]})
    assert response.status_code == 200, response.text[:500]
    assert client.get("/healthz").json()["status"] == "ok"


def test_complex_backward_over_http_is_a_clear_refusal(client: TestClient) -> None:
    code = HEAD + "z = torch.tensor(1+2j, requires_grad=True)\n(z * z).backward()\n"
    problem = assert_problem(client.post("/api/graph", json={"code": code}))
    assert "real scalar" in str(problem["detail"])


# Work bounded by counts -------------------------------------------------------------------


def scalar_leaves(count: int, chained: bool) -> str:
    made = f"xs = [torch.tensor(0.01 * i, requires_grad=True) for i in range({count})]\n"
    if chained:  # leaf i is i steps from the root: listing every path is quadratic
        return HEAD + made + "y = xs[0]\nfor x in xs[1:]:\n    y = y * 0.5 + x * x\ny.backward()\n"
    return HEAD + made + "y = torch.stack(xs).sum()\ny.backward()\n"


def recurrent(cell: str, steps: int) -> str:
    """A cell's loop with a linear head: the head's leaves sit right under the root, and the
    loop gives each of them exponentially many paths through the cell's gates."""
    update = "h, c = cell(x, (h, c))" if cell == "LSTMCell" else "h = cell(x, h)"
    return (
        HEAD + f"cell = torch.nn.{cell}(3, 4)\nhead = torch.nn.Linear(4, 1)\n"
        "h = torch.zeros(1, 4)\nc = torch.zeros(1, 4)\nx = torch.randn(1, 3)\n"
        f"for t in range({steps}):\n    {update}\nloss = head(h).sum()\nloss.backward()\n"
    )


class Spent:
    """The work the gradient check was charged for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = self.elements = 0
        original = gradcheck.GradcheckShare.spend

        def spend(share: gradcheck.GradcheckShare, calls: int, elements: int = 0) -> None:
            original(share, calls, elements)
            self.calls += calls
            self.elements += elements

        monkeypatch.setattr(gradcheck.GradcheckShare, "spend", spend)


@pytest.mark.parametrize("chained", [False, True])
def test_many_scalar_leaves_are_checked_up_to_the_bounds(
    chained: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spent = Spent(monkeypatch)
    limits = Limits()
    graph = evaluate(GraphRequest(code=scalar_leaves(300, chained)), limits)
    checks = graph.gradcheck
    assert len(checks) == 300
    checked = [name for name, check in checks.items() if check.ok is not None]
    assert 1 <= len(checked) <= limits.gradcheck_max_leaves
    assert all(checks[name].ok for name in checked)
    over = [c for c in checks.values() if c.note and "first 16 leaves" in c.note]
    assert len(over) == 300 - limits.gradcheck_max_leaves
    assert all(c.note for c in checks.values() if c.ok is None)
    # Charged no more than the bounds (element by element, and along directions), refunds
    # aside (which only lower what was charged).
    assert spent.elements <= limits.gradcheck_max_elements + limits.gradcheck_max_direction_elements


def test_the_gradient_check_refuses_work_over_its_bounds_before_doing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replays = []
    original = tape.Replay.__call__

    def counted(replay: tape.Replay, *values: torch.Tensor) -> torch.Tensor:
        replays.append(replay)
        return original(replay, *values)

    monkeypatch.setattr(tape.Replay, "__call__", counted)
    code = HEAD + "x = torch.tensor(2.0, requires_grad=True)\ny = torch.sin(x ** 2)\n"
    check = evaluate(GraphRequest(code=code), Limits(gradcheck_max_calls=3)).gradcheck["x"]
    assert check.ok is None
    assert check.note is not None
    assert "share of the work" in check.note or "too many calls" in check.note
    assert replays == []  # nothing was replayed to find that out
    off = evaluate(GraphRequest(code=code), Limits(gradcheck_max_leaves=0)).gradcheck["x"]
    assert off.ok is None


@pytest.mark.parametrize(
    ("call", "size", "along"),
    [
        # 17 points of two 200 x 200 x 200 products: 0.3 billion multiplications, over the
        # bound element by element; along a direction, 3 points: 50 million, within it.
        ("(A * w.sum()) @ A @ A", 200, True),
        # One point of two 800 x 800 x 800 products is over both bounds already.
        ("(A * w.sum()) @ A @ A", 800, False),
        # A convolution's: 4 x 64 x 64 x 64 outputs of 64 x 3 x 3 products, 0.6 billion.
        ("F.conv2d((A * w.sum()).reshape(4, 64, 64, 64), K, padding=1)", 1024, False),
    ],
)
def test_gradient_check_counts_the_multiplications_of_products(
    call: str, size: int, along: bool
) -> None:
    code = (
        HEAD + "import torch.nn.functional as F\n"
        f"w = torch.ones(8, requires_grad=True)\nA = torch.ones({size}, {size})\n"
        f"K = torch.ones(64, 64, 3, 3)\ny = ({call}).sum()\n"
    )
    check = evaluate(GraphRequest(code=code), Limits()).gradcheck["w"]
    assert check.note is not None
    assert "share of the work" in check.note
    if along:
        assert check.ok is True
        assert check.numeric is None
        assert check.direction is not None
    else:
        assert check.ok is None


@pytest.mark.parametrize(("cell", "steps"), [("GRUCell", 50), ("LSTMCell", 50), ("GRUCell", 7)])
def test_recurrent_loops_are_answered_with_pytorchs_gradients(cell: str, steps: int) -> None:
    code = recurrent(cell, steps)
    graph = run(code)
    reference = run_reference(code)
    module = reference.names["head"]
    assert_close(graph.backward_passes[-1].grads["head.bias"], module.bias.grad, "head.bias")
    rule = graph.chain_rule["head.bias"]
    assert rule.product == pytest.approx(float(module.bias.grad), rel=1e-5)
    assert all(check.ok is not False for check in graph.gradcheck.values())


def test_exponentially_many_paths_are_summed_not_listed() -> None:
    """y = 0.5 y^2 + 0.25 y, forty times: 3^40 paths from the root to x."""
    code = (
        HEAD + "x = torch.tensor(0.5, requires_grad=True)\ny = x\n"
        "for i in range(40):\n    y = 0.5 * (y * y) + 0.25 * y\ny.backward()\n"
    )
    graph = run(code)
    reference = run_reference(code)
    rule = graph.chain_rule["x"]
    expected = reference.grads["x"]
    assert expected is not None
    assert rule.product == pytest.approx(float(expected), rel=1e-4)
    assert rule.paths == []
    assert "more than 16 paths" in rule.text
    assert "too many to list" in rule.text


def test_listed_factors_are_bounded_over_all_leaves() -> None:
    code = scalar_leaves(300, chained=True)
    graph = run(code)
    reference = run_reference(code)
    assert len(graph.chain_rule) == 300
    listed = sum(len(path.factors) for rule in graph.chain_rule.values() for path in rule.paths)
    assert 0 < listed <= chainrule.MAX_LISTED_FACTORS
    assert all(rule.product is not None for rule in graph.chain_rule.values())
    unlisted = [rule for rule in graph.chain_rule.values() if not rule.paths]
    assert unlisted
    assert all("too many to list" in rule.text for rule in unlisted)
    xs = reference.names["xs"]
    products = sorted(rule.product or 0.0 for rule in graph.chain_rule.values())
    assert products == pytest.approx(sorted(float(x.grad) for x in xs), rel=1e-5, abs=1e-9)


# Drawing bounded as drawn -------------------------------------------------------------------

STACKED = HEAD + "x = torch.ones(2, requires_grad=True)\ny = torch.stack([x] * {uses}).sum()\n"


def test_a_leaf_used_thousands_of_times_is_drawn_small_and_answered_whole(
    client: TestClient,
) -> None:
    response = client.post("/api/graph", json={"code": STACKED.format(uses=20_000)})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert len(body["edges"]) == 20_001
    assert body["variables"]["x"]["grad"] == [20_000.0, 20_000.0]
    assert body["svg"] is not None
    assert len(body["dot"]) < 10_000
    assert "20,000 edges" in body["dot"]


def test_graph_with_too_many_edges_is_a_clear_refusal() -> None:
    with pytest.raises(ProgramError) as raised:
        evaluate(GraphRequest(code=STACKED.format(uses=2_000)), Limits(max_graph_edges=1_000))
    assert raised.value.slug == "limit"
    assert "1000 edges" in raised.value.detail


# Many passes: capture keeps what it may send ---------------------------------------------

THREE_PASSES = (
    HEAD + "x = torch.tensor(2.0, requires_grad=True)\n"
    "a = x * 3\na.backward()\nb = x * x\nb.backward()\nc = x + 1\nc.backward()\n"
)


class Kept:
    """The capture's pass records when the program ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.records: list[capture.BackwardPass] = []
        original = capture.GraphCapture.finish

        def finish(graph: capture.GraphCapture, *args: Any) -> GraphData:
            self.records = [r for r in graph.passes if not r.pruned]
            return original(graph, *args)

        monkeypatch.setattr(capture.GraphCapture, "finish", finish)


def test_many_passes_keep_one_full_record(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = Kept(monkeypatch)
    code = (
        HEAD + "W = torch.randn(3, 3, requires_grad=True)\nfor step in range(30):\n"
        "    h = torch.ones(3)\n    for i in range(20):\n        h = torch.tanh(W @ h)\n"
        "    loss = h.sum()\n    loss.backward()\n"
    )
    graph = run(code)
    assert len(kept.records) == 1
    reference = run_reference(code)
    assert_close(graph.variables["W"].grad, reference.grads["W"], "W.grad")
    assert all(node.grad is not None for node in graph.nodes)
    assert len([p for p in graph.backward_passes if p.kind == "backward"]) == 30


def test_the_pass_of_the_output_asked_for_keeps_its_gradients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = Kept(monkeypatch)
    graph = run(THREE_PASSES, output="b")
    assert len(kept.records) == 2  # the last pass, and b's
    assert graph.root_name == "b"
    root = next(node for node in graph.nodes if node.kind == "root")
    assert root.grad == 1.0
    leaf = next(node for node in graph.nodes if node.kind == "leaf")
    assert leaf.grad == 4.0  # d(x*x)/dx in b's own pass, not .grad accumulated over three
    assert graph.variables["x"].grad == 8.0


def test_a_pass_let_go_before_its_root_was_named_is_drawn_without_gradients() -> None:
    graph = run(THREE_PASSES + "out = a\n", output="out")
    assert graph.root_name == "out"
    assert [node.op for node in graph.nodes if node.kind == "root"] == ["MulBackward0"]
    assert all(node.grad is None for node in graph.nodes)
    assert any("were not kept" in warning for warning in graph.warnings)
    assert graph.variables["x"].grad == 8.0  # as PyTorch: no extra pass by the server


def test_the_timeline_of_passes_is_bounded_and_ends_where_the_program_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(passes, "MAX_STATES", 4)
    code = (
        HEAD + "a = torch.tensor(1.0, requires_grad=True)\n"
        "b = torch.tensor(2.0, requires_grad=True)\nfor step in range(6):\n"
        "    (a * b * step).backward()\n"
    )
    graph = run(code)
    reference = run_reference(code)
    entries = graph.backward_passes
    assert len(entries) == 3  # two entries of two leaves, then the latest
    assert any("the 3 in between are left out" in warning for warning in graph.warnings)
    last = reference.passes[-1]
    assert_close(entries[-1].grads["a"], last["a"][0], "a.grad at the end")
    assert_close(entries[-1].grads["b"], last["b"][0], "b.grad at the end")
    first = reference.passes[1]
    assert_close(entries[1].grads["a"], first["a"][0], "a.grad after the second pass")


@pytest.mark.parametrize(
    "code",
    [
        "import torch.nn.functional as F\nx = torch.ones(4, requires_grad=True)\n"
        "p = [1, 1]\ny = F.pad(x, p).sum()\np[0] = 200000000\n",
        "x = torch.ones(1, requires_grad=True)\ns = [3]\ny = x.expand(s).sum()\ns[0] = 10**15\n",
        "x = torch.ones(2, requires_grad=True)\nd = {'dim': 0}\ny = x.sum(**d)\nd['dim'] = 5\n",
    ],
)
def test_the_gradient_check_replays_arguments_as_they_were(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list the program changes after the call is replayed as the call saw it: the check
    is made with what the guard sized, never with sizes it never saw."""
    spent = Spent(monkeypatch)
    check = evaluate(GraphRequest(code=HEAD + code), Limits()).gradcheck["x"]
    assert check.ok is True, check
    assert spent.elements < 1_000


def test_the_gradient_check_refuses_tensors_changed_after_their_call() -> None:
    """An index tensor changed in place after the call would reach its kernel unchecked."""
    code = HEAD + (
        "x = torch.ones(3, requires_grad=True)\ni = torch.tensor([0, 1])\n"
        "y = x[i].sum()\ni[0] = 2 ** 40\n"
    )
    check = evaluate(GraphRequest(code=code), Limits()).gradcheck["x"]
    assert check.ok is None
    assert check.note is not None
    assert "changed a tensor in place after using it" in check.note


@pytest.mark.parametrize("size", [10, 100])
def test_a_complex_leaf_is_not_checked_whatever_its_size(size: int) -> None:
    """Differences of a real function do not measure autograd's convention for a complex
    leaf (conjugate Wirtinger): small or large, it says so, and no direction is tried."""
    code = HEAD + (
        f"z = torch.randn({size}, dtype=torch.complex64, requires_grad=True)\n"
        "loss = z.abs().sum()\n"
    )
    check = evaluate(GraphRequest(code=code), Limits()).gradcheck["z"]
    assert check.ok is None
    assert check.direction is None
    assert check.note == "not checked: the leaf is not a floating-point tensor"
