"""Every number the product shows, checked against plain PyTorch on the same program."""

from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.contract.schemas import GraphData, GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from tests.programs import PROGRAMS
from tests.reference import Reference, as_tensor, assert_close, run_reference

WITHOUT_GRAPH = {"seed_classifier_manual"}  # no tensor requires grad: gradients by hand


def run(code: str, output: str | None = None) -> GraphData:
    return evaluate(GraphRequest(code=code, output=output), Limits())


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_variables_match_pytorch(name: str) -> None:
    graph = run(PROGRAMS[name])
    _check_variables(name, graph.model_dump(mode="json"))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_job_processes_answer_as_pytorch_does(client: TestClient, name: str) -> None:
    """The same numbers through the server: a job process forked from the warmed zygote, in
    its own thread, with the torch settings the zygote and the job thread make (one OpenMP
    thread, the warm-up's first calls and remembered sizes), which a test running `evaluate`
    in its own process does not have."""
    code = f"{PROGRAMS[name]}\n# {name} through a job"
    response = client.post("/api/graph", json={"code": code})
    assert response.status_code == 200, response.text
    _check_variables(name, response.json())


def _check_variables(name: str, answer: dict[str, Any]) -> None:
    """Every named tensor of the answer (as JSON) against plain PyTorch's, and the output."""
    reference = run_reference(PROGRAMS[name])
    tensors = {k: v for k, v in reference.names.items() if isinstance(v, torch.Tensor)}
    assert set(answer["variables"]) == set(tensors)
    for var, tensor in tensors.items():
        info = answer["variables"][var]
        assert_close(info["value"], tensor, f"{name}: {var}.value")
        assert_close(info["grad"], reference.grads[var], f"{name}: {var}.grad")
        assert info["shape"] == list(tensor.shape)
        assert info["requires_grad"] == tensor.requires_grad
        assert info["is_leaf"] == tensor.is_leaf
        assert info["grad_fn"] == (type(tensor.grad_fn).__name__ if tensor.grad_fn else None)
    assert answer["stdout"] == reference.stdout


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_node_and_edge_gradients_match_pytorch(name: str) -> None:
    code = PROGRAMS[name]
    graph = run(code)
    reference = run_reference(code)
    if name in WITHOUT_GRAPH:
        assert graph.nodes == []
        assert reference.root is None
        return
    _check_nodes(graph, reference, name)
    _check_edges(graph, name)


def _check_nodes(graph: GraphData, reference: Reference, name: str) -> None:
    root = next(node for node in graph.nodes if node.kind == "root")
    assert root.id == graph.root
    assert reference.root is not None
    assert_close(root.grad, torch.ones_like(reference.root), f"{name}: root grad")
    checked = 0
    for node in graph.nodes:
        for var in node.variables:
            if var in reference.graph_grads and node.kind != "leaf" and not _per_output(node):
                assert_close(node.grad, reference.graph_grads[var], f"{name}: node {var}")
                checked += 1
        if node.kind == "leaf" and node.grad is not None and not isinstance(node.grad, dict):
            # (a summarised gradient, of a parameter past 100 elements, has no values here)
            # The gradient that arrived at the leaf in this pass.
            assert as_tensor(node.grad).shape == torch.Size(node.shape or [])
    assert checked or len(graph.nodes) < 3 or not reference.graph_grads


def _per_output(node: Any) -> bool:
    """A node with several outputs (batch_norm, slogdet, cummax, unsafe_split) shows one
    gradient per output, None for outputs nothing used, rather than one tensor."""
    if not isinstance(node.grad, list) or isinstance(node.grad, dict):
        return False
    if None in node.grad:
        return True
    return tuple(as_tensor(node.grad).shape) != tuple(node.shape or [])


def _check_edges(graph: GraphData, name: str) -> None:
    """A node's gradient is the sum of the gradients on the edges leaving it."""
    outgoing: dict[int, list[Any]] = {}
    for edge in graph.edges:
        outgoing.setdefault(edge.source, []).append(edge.grad)
    for node in graph.nodes:
        if node.id not in outgoing or node.grad is None or isinstance(node.grad, dict):
            continue
        if _per_output(node):
            continue  # a node of several outputs (LSTM, batch_norm): one gradient per output
        grads = [as_tensor(g) for g in outgoing[node.id] if g is not None]
        total = torch.stack([g.expand_as(grads[0]) for g in grads]).sum(0)
        assert torch.allclose(total, as_tensor(node.grad), rtol=1e-5, atol=1e-6), (
            f"{name}: edges out of node {node.id} ({node.op})"
        )


def test_seed_chain_rule_numbers() -> None:
    graph = run(PROGRAMS["seed_chain_rule"])
    assert graph.variables["x"].grad == pytest.approx(-5.4668, abs=1e-4)
    pow_node = next(n for n in graph.nodes if n.op == "PowBackward0")
    assert pow_node.saved == {"self": 3.0, "exponent": 2}
    assert pow_node.grad == pytest.approx(-0.9111, abs=1e-4)
    assert pow_node.variables == ["y"]
    leaf = next(n for n in graph.nodes if n.kind == "leaf")
    assert leaf.variables == ["x"]
    assert leaf.grad == pytest.approx(-5.4668, abs=1e-4)
    assert any("not a leaf Tensor" in w for w in graph.warnings)


def test_seed_classifier_numbers() -> None:
    graph = run(PROGRAMS["seed_classifier_autograd"])
    assert graph.variables["w"].grad == pytest.approx(6.6918, abs=1e-4)
    assert graph.variables["b"].grad == pytest.approx(0.9988, abs=1e-4)
    assert graph.variables["loss"].value == pytest.approx(6.7012, abs=1e-4)
    manual = run(PROGRAMS["seed_classifier_manual"])
    assert manual.stdout == (  # what the notebook printed
        "Manual gradient of loss wrt weight dw: 6.691762447357178\n"
        "Manual gradient of loss wrt bias db: 0.998770534992218\n"
    )


def test_accumulation_numbers() -> None:
    graph = run(PROGRAMS["accumulate_twice"])
    assert graph.stdout == "tensor(4.)\ntensor(8.)\n"
    assert graph.variables["x"].grad == 8.0
    seed = run(PROGRAMS["seed_accumulation"])
    assert seed.variables["x"].grad == 0.0  # the notebook's last cell zeroes it


def test_whole_notebook_draws_last_backward() -> None:
    graph = run(PROGRAMS["seed_whole_notebook"])
    assert graph.root_name == "y"
    assert [n.op for n in graph.nodes] == ["PowBackward0", "AccumulateGrad"]


def test_server_backpropagates_when_program_did_not() -> None:
    graph = run(PROGRAMS["no_backward_called"])
    assert graph.root_name == "b"
    assert graph.variables["a"].grad == [2.0, 4.0, 6.0]


def test_non_scalar_root_is_backpropagated_with_ones_and_warned() -> None:
    graph = run(PROGRAMS["non_scalar_root"])
    assert any("not a scalar" in w for w in graph.warnings)
    assert_close(graph.variables["a"].grad, torch.exp(torch.tensor([1.0, -2.0])) * 3, "a.grad")


def test_output_picks_the_root() -> None:
    code = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\nz = x ** 2\n"
    graph = run(code, output="y")
    assert graph.root_name == "y"
    assert graph.variables["x"].grad == 3.0


def test_module_parameters_are_named_by_path() -> None:
    graph = run(PROGRAMS["mlp_sequential"])
    leaf_names = {name for n in graph.nodes if n.kind == "leaf" for name in n.variables}
    assert {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"} <= leaf_names


def test_saved_integers_keep_their_sign() -> None:
    """cross_entropy saves ignore_index=-100, which autograd reads back as 2**64 - 100."""
    graph = run(PROGRAMS["mlp_sequential"])
    nll = next(n for n in graph.nodes if n.op == "NllLossBackward0")
    assert nll.saved["ignore_index"] == -100


def test_program_without_graph_says_so() -> None:
    graph = run("x = 1 + 2\nprint(x)")
    assert graph.nodes == []
    assert graph.stdout == "3\n"
    assert any("requires_grad=True" in w for w in graph.warnings)


def test_backward_order_starts_at_root() -> None:
    graph = run(PROGRAMS["seed_chain_rule"])
    steps = {n.op: n.backward_step for n in graph.nodes}
    assert steps == {"SinBackward0": 1, "PowBackward0": 2, "AccumulateGrad": 3}


def test_parameters_of_nested_user_modules_keep_their_paths() -> None:
    graph = run(PROGRAMS["class_nested_submodules_and_plain_class"])
    leaf_names = {name for n in graph.nodes if n.kind == "leaf" for name in n.variables}
    assert {"model.encoder.layers.0.linear1.weight", "model.encoder.heads.mean.bias"} <= leaf_names
    ops = {n.op for n in graph.nodes}
    assert {"TanhBackward0", "ExpBackward0", "AddmmBackward0"} <= ops  # forward's own ops


def test_user_module_prints_as_pytorch_prints_it() -> None:
    graph = run(PROGRAMS["class_learn_the_basics_network"])
    assert graph.stdout.startswith("NeuralNetwork(\n  (flatten): Flatten(")


def test_custom_autograd_function_is_drawn_with_its_own_backward() -> None:
    graph = run(PROGRAMS["custom_autograd_function_exp_and_relu"])
    ops = [n.op for n in graph.nodes]
    assert "MyExpBackward" in ops
    assert "ClampedReLUBackward" in ops


def test_custom_function_backward_may_return_a_view_it_is_made_dense() -> None:
    code = (
        "import torch\n"
        "class Spread(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x):\n"
        "        return x.sum()\n"
        "    @staticmethod\n"
        "    def backward(ctx, g):\n"
        "        return g.expand(3)\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "y = Spread.apply(x)\n"
        "y.backward()\n"
        "x.grad.add_(1)\n"
    )
    assert run(code).variables["x"].grad == [2.0, 2.0, 2.0]


def test_a_method_may_run_without_gradients() -> None:
    code = (
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(2, 1)\n"
        "    @torch.no_grad()\n"
        "    def predict(self, x):\n"
        "        return self.fc(x)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n"
        "n = Net()\n"
        "print(n.predict(torch.ones(1, 2)).requires_grad, n(torch.ones(1, 2)).requires_grad)\n"
    )
    assert run(code).stdout == "False True\n"


def test_a_hook_changes_the_gradient_as_in_pytorch_and_ends_with_the_program() -> None:
    code = (
        "import torch\n"
        "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "x.register_hook(lambda g: g * 10)\n"
        "x.register_hook(print)\n"
        "y = (x * x).sum()\n"
    )
    graph = run(code)  # the server backpropagates y: the program's hooks are gone by then
    assert graph.variables["x"].grad == [2.0, 4.0]
    assert graph.stdout == ""


def test_the_server_backward_runs_a_custom_function_backward() -> None:
    code = (
        "import torch\n"
        "class Twice(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x):\n"
        "        return x * 2\n"
        "    @staticmethod\n"
        "    def backward(ctx, g):\n"
        "        return g * 3\n"  # deliberately not the true derivative: it is the one used
        "x = torch.tensor(3.0, requires_grad=True)\n"
        "w = Twice.apply(x) * 5\n"
    )
    assert run(code).variables["x"].grad == 15.0
