"""The teaching fields (backward_passes, gradcheck, chain_rule, constants, explanations and
the lessons of static/examples.json), each number checked against plain PyTorch."""

import json
import math
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.contract.errors import ProgramError
from app.contract.schemas import GraphData, GraphRequest
from app.contract.settings import Limits
from app.server.render import build_dot
from app.worker import gradcheck, tape
from app.worker.evaluate import evaluate
from tests.examples import LESSONS
from tests.programs import PROGRAMS
from tests.reference import Reference, as_tensor, assert_close, run_reference

# The root's inputs are changed in place after backward (optimiser steps): replaying the
# forward calls cannot give the root again, and the check says so instead.
NOT_REPLAYABLE = {
    "training_loop_sgd",
    "module_forward_hooks",  # a hooked module call is not replayed
    "python_try_lambda_decorator_and_input_name",  # updates input in place after backward
    "custom_autograd_function_exp_and_relu",  # the program's Function is not replayed
    "class_lstm_classifier",  # LSTM gives (output, (h, c)): the tape keeps one level of tuple
    "class_learn_the_basics_network",  # optimizer.step() after backward
    "adam_bce",
    "python_subset",
    "data_update_loop",
    "data_sub_and_grad_data_zero",
    "parameters_in_a_list_makemore_style",
    "data_zero_after_backward",
    "each_optimizer_steps_like_pytorch",
    "d2l_masked_softmax",  # X[~mask] = value: an in-place write into a view of the scores
}
# Parameters past 100 elements are summarised, so their passes cannot be compared number by
# number (test_gradients compares what is shown; transformer_encoder_layer_small covers the
# same layer here).
SUMMARISED = {"transformer_encoder_layer"}
# Packed sequences are not replayed by the gradient check (it says so in its note).
NOT_RECORDED = {"packed_sequence_lstm"}


def run(code: str, output: str | None = None) -> GraphData:
    return evaluate(GraphRequest(code=code, output=output), Limits())


# backward_passes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - SUMMARISED))
def test_passes_match_pytorch(name: str) -> None:
    """After each backward, every named leaf's .grad and value are PyTorch's."""
    graph = run(PROGRAMS[name])
    reference = run_reference(PROGRAMS[name])
    passes = [p for p in graph.backward_passes if p.kind in {"backward", "server"}]
    assert len(passes) == len(reference.passes)
    for index, (ours, theirs) in enumerate(zip(passes, reference.passes, strict=True)):
        assert set(ours.grads) == set(theirs), f"{name}: pass {index}"
        for leaf, (grad, value) in theirs.items():
            assert_close(ours.grads[leaf], grad, f"{name}: pass {index} {leaf}.grad")
            assert_close(ours.values[leaf], value, f"{name}: pass {index} {leaf} value")


@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - SUMMARISED))
def test_last_entry_of_the_passes_is_the_end_state(name: str) -> None:
    """Resets after the last pass (`w.grad.data.zero_()`) show as an entry of their own, so the
    timeline ends where PyTorch ends."""
    graph = run(PROGRAMS[name])
    reference = run_reference(PROGRAMS[name])
    if not graph.backward_passes:
        return
    last = graph.backward_passes[-1]
    for leaf, grad in last.grads.items():
        if leaf in reference.grads:
            final = reference.grads[leaf]
        else:
            final = _parameter_grad(reference, leaf)
        assert_close(grad, final, f"{name}: {leaf}.grad at the end")


def _parameter_grad(reference: Reference, path: str) -> torch.Tensor | None:
    """The final .grad of a module parameter named by path (model.0.weight), or of a tensor
    an object of the program holds (layer.w)."""
    owner, _, rest = path.partition(".")
    holder = reference.names[owner]
    if isinstance(holder, torch.nn.Module):
        parameter = holder.get_parameter(rest)
    else:
        parameter = getattr(holder, rest)
    return None if parameter.grad is None else parameter.grad.clone()


def test_accumulation_shows_in_the_passes() -> None:
    graph = run(PROGRAMS["accumulate_twice"])
    assert [(p.kind, p.root, p.grads) for p in graph.backward_passes] == [
        ("backward", "y", {"x": 4.0}),
        ("backward", "y", {"x": 8.0}),
    ]


def test_zeroing_is_a_reset_entry() -> None:
    graph = run(PROGRAMS["seed_accumulation"])
    assert [(p.kind, p.grads) for p in graph.backward_passes] == [
        ("backward", {"x": 4.0}),
        ("reset", {"x": 0.0}),
    ]
    sgd = run(PROGRAMS["training_loop_sgd"])
    kinds = [p.kind for p in sgd.backward_passes]
    assert kinds == ["backward", "reset", "backward", "reset", "backward"]
    assert sgd.backward_passes[1].grads == {"model.weight": None, "model.bias": None}


def test_grad_set_by_hand_is_a_changed_entry() -> None:
    code = (
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\n(x * 3).backward()\n"
        "x.grad = torch.tensor(5.0)\n"
    )
    graph = run(code)
    assert [(p.kind, p.grads) for p in graph.backward_passes] == [
        ("backward", {"x": 3.0}),
        ("changed", {"x": 5.0}),
    ]


def test_optimiser_steps_show_in_the_values() -> None:
    graph = run(PROGRAMS["training_loop_sgd"])
    weights = [p.values["model.weight"] for p in graph.backward_passes if p.kind == "backward"]
    assert len({json.dumps(w) for w in weights}) == 3  # each step moved the weight


def test_server_pass_is_listed() -> None:
    graph = run(PROGRAMS["no_backward_called"])
    assert [(p.kind, p.root) for p in graph.backward_passes] == [("server", "b")]


# gradcheck -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_gradcheck_agrees_with_pytorch(name: str) -> None:
    graph = run(PROGRAMS[name])
    reference = run_reference(PROGRAMS[name])
    leaves = {v for n in graph.nodes if n.kind == "leaf" for v in n.variables[:1]}
    assert set(graph.gradcheck) == leaves
    for leaf, check in graph.gradcheck.items():
        node = next(n for n in graph.nodes if n.kind == "leaf" and n.variables[:1] == [leaf])
        assert check.autograd == node.grad, f"{name}: {leaf} autograd is the pass's gradient"
        if name in NOT_REPLAYABLE | NOT_RECORDED:
            assert check.ok is None, f"{name}: {leaf}: {check}"
            assert check.note, f"{name}: {leaf} says why it was skipped"
            continue
        # Every leaf is checked, whatever its size: element by element when it is small
        # enough, else along one random direction.
        assert check.ok is True, f"{name}: {leaf}: {check}"
        if check.numeric is None:
            assert check.direction is not None, f"{name}: {leaf}: {check}"
            assert check.note is not None, f"{name}: {leaf}: {check}"
            assert "one random direction" in check.note
        else:
            assert check.direction is None, f"{name}: {leaf}: {check}"
        if len(reference.passes) != 1:
            continue
        # Independent of our capture: PyTorch's own .grad after its only backward.
        expected = reference.passes[0][leaf][0]
        assert expected is not None
        if check.direction is None:
            numeric = as_tensor(check.numeric)
            assert torch.allclose(numeric, expected.double(), rtol=1e-3, atol=1e-4), (
                f"{name}: {leaf} numeric {numeric} vs PyTorch {expected}"
            )
            continue
        along = gradcheck.direction(leaf, expected.shape)
        slope = float((expected.double() * along).sum())
        scale = 1e-4 + 1e-3 * float(expected.double().norm())
        assert check.direction.autograd == pytest.approx(slope, abs=scale * 1e-2), (
            f"{name}: {leaf} autograd along its direction vs PyTorch's"
        )
        assert check.direction.numeric == pytest.approx(slope, abs=scale), (
            f"{name}: {leaf} numeric along its direction vs PyTorch's"
        )


def test_gradcheck_seed_chain_rule_in_float64() -> None:
    check = run(PROGRAMS["seed_chain_rule"]).gradcheck["x"]
    assert check.ok is True
    assert check.numeric == pytest.approx(2 * 3 * math.cos(9), abs=1e-7)


@pytest.mark.parametrize("name", ["mlp_sequential", "rnn_loop", "softmax_cross_entropy_by_hand"])
def test_gradcheck_batched_replay_agrees_with_point_by_point(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vectorised replay (vmap) is a speed-up only: the same numbers as one replay per
    point, which is what the check falls back to where vmap cannot run the calls."""
    vectorised = []
    original = gradcheck._batched

    def spy(*args: Any) -> torch.Tensor | None:
        values = original(*args)
        vectorised.append(values is not None)
        return values

    monkeypatch.setattr(gradcheck, "_batched", spy)
    batched = run(PROGRAMS[name]).gradcheck
    assert vectorised, f"{name}: no leaf was replayed"
    assert all(vectorised), f"{name}: vmap did not run every leaf"
    monkeypatch.setattr(gradcheck, "_batched", lambda *args: None)
    one_by_one = run(PROGRAMS[name]).gradcheck
    assert batched.keys() == one_by_one.keys()
    checked = [leaf for leaf, check in batched.items() if check.ok is not None]
    assert checked, f"{name}: no leaf was checked"
    for leaf in checked:
        fast, slow = as_tensor(batched[leaf].numeric), as_tensor(one_by_one[leaf].numeric)
        assert torch.allclose(fast, slow, rtol=1e-6, atol=1e-9), f"{name}: {leaf}"


def test_gradcheck_replay_failures_are_notes_not_failed_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: Any) -> torch.Tensor:
        raise RuntimeError("boom")

    monkeypatch.setattr(tape.Replay, "__call__", fail)
    checks = run(PROGRAMS["mlp_sequential"]).gradcheck
    assert checks
    for check in checks.values():
        assert check.ok is None
        assert check.note is not None
        assert check.note.startswith("not checked: ")


def test_gradcheck_treats_detached_values_as_constants() -> None:
    """As autograd does: the detached factor is a constant in the finite differences too."""
    code = (
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\n"
        "y = x * x.detach()\ny.backward()\n"
    )
    check = run(code).gradcheck["x"]
    assert check.autograd == 2.0
    assert check.numeric == pytest.approx(2.0, abs=1e-6)
    assert check.ok is True


# chain_rule ----------------------------------------------------------------------------


def test_chain_rule_explains_the_seed_lesson() -> None:
    rule = run(PROGRAMS["seed_chain_rule"]).chain_rule["x"]
    assert rule.text == "dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668"
    assert [f.derivative for f in rule.factors] == ["dz/dy", "dy/dx"]
    assert rule.factors[0].value == pytest.approx(math.cos(9), abs=1e-6)
    assert rule.factors[1].value == pytest.approx(6.0, abs=1e-6)
    assert rule.product == pytest.approx(6 * math.cos(9), abs=1e-5)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_chain_rule_products_are_the_gradients(name: str) -> None:
    graph = run(PROGRAMS[name])
    reference = run_reference(PROGRAMS[name])
    for leaf, rule in graph.chain_rule.items():
        assert rule.product is not None
        node = next(n for n in graph.nodes if n.kind == "leaf" and n.variables[:1] == [leaf])
        assert rule.product == pytest.approx(node.grad, rel=1e-5, abs=1e-6)
        if len(reference.passes) == 1:
            expected = reference.passes[0][leaf][0]
            assert expected is not None
            assert rule.product == pytest.approx(float(expected), rel=1e-5, abs=1e-6)
        total = sum(p.product for p in rule.paths if p.product is not None)
        assert total == pytest.approx(rule.product)


def test_meeting_paths_are_summed() -> None:
    rule = run(PROGRAMS["shared_weight_two_paths"]).chain_rule["w"]
    assert len(rule.paths) == 3
    assert rule.text.startswith("3 paths lead from r to w")
    w = 1.5  # r = 2w * w**2 + exp(w)
    shares = sorted(p.product or 0 for p in rule.paths)
    assert shares == pytest.approx(sorted([2 * w**2, 2 * w * 2 * w, math.exp(w)]), rel=1e-5)


def test_chain_rule_with_python_numbers() -> None:
    code = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = (x * 3 + 1) / 4 - 2\n"
    rule = run(code).chain_rule["x"]
    assert rule.text == "dy/dx = 1 · 1/4 · 1 · 3 = 1 · 0.2500 · 1 · 3 = 0.7500"
    assert rule.product == pytest.approx(0.75)


def test_no_chain_rule_for_tensors() -> None:
    assert run(PROGRAMS["rnn_loop"]).chain_rule == {}


# constants and cuts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "constant", "how"),
    [
        ("detach_and_retain_grad", "c", ".detach()"),
        ("no_grad_constant", "k", "torch.no_grad()"),
        ("requires_grad_switched_off", "b", "requires_grad_(False)"),
    ],
)
def test_cut_tensors_are_drawn_as_constants(name: str, constant: str, how: str) -> None:
    graph = run(PROGRAMS[name])
    const = next(n for n in graph.nodes if n.kind == "const")
    assert const.variables == [constant]
    assert const.note is not None
    assert how in const.note
    assert const.grad is None
    reference = run_reference(PROGRAMS[name])
    assert_close(const.value, reference.names[constant], f"{name}: {constant}")
    cut = [e for e in graph.edges if e.source == const.id]
    assert cut
    assert all(e.cut and e.grad is None for e in cut)
    dot = build_dot(graph)
    assert 'class="cut-edge"' in dot
    assert "constant cut from the graph" in dot  # the legend explains them


def test_plain_constants_are_not_drawn() -> None:
    graph = run(PROGRAMS["seed_classifier_autograd"])
    assert all(n.kind != "const" for n in graph.nodes)
    assert "constant cut from the graph" not in build_dot(graph)


# higher order, errors -----------------------------------------------------------------


def test_gradient_graph_is_drawn_and_backpropagated() -> None:
    code = (
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x ** 3\n"
        "(dy,) = torch.autograd.grad(y, x, create_graph=True)\n"
    )
    graph = run(code, output="dy")
    assert graph.root_name == "dy"
    assert any(n.op == "PowBackward0" for n in graph.nodes)
    reference = run_reference(code, output="dy")
    (second,) = torch.autograd.grad(reference.names["dy"], reference.names["x"])
    assert_close(graph.variables["x"].grad, second, "d2y/dx2")
    assert graph.variables["x"].grad == 12.0  # 6x
    assert graph.chain_rule["x"].product == pytest.approx(12.0)
    check = graph.gradcheck["x"]  # the replay differentiates y again, as the program did
    assert check.ok is True
    assert check.numeric == pytest.approx(12.0, abs=1e-6)


def test_backward_twice_is_explained() -> None:
    code = (
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x ** 2\n"
        "y.backward()\ny.backward()\n"
    )
    with pytest.raises(ProgramError) as raised:
        run(code)
    assert "Trying to backward through the graph a second time" in raised.value.detail
    assert "In plain words" in raised.value.detail
    assert raised.value.line == 5


def test_pytorch_warnings_are_kept() -> None:
    chain = run(PROGRAMS["seed_chain_rule"])
    assert any("not a leaf Tensor" in w for w in chain.warnings)
    assert any("not a scalar" in w for w in run(PROGRAMS["non_scalar_root"]).warnings)


# lessons -------------------------------------------------------------------------------


def test_lessons_cover_the_notebook() -> None:
    ids = {lesson["id"] for lesson in LESSONS}
    assert {
        "derivative-by-hand",
        "chain-rule",
        "requires-grad-and-grad-fn",
        "leaf-and-non-leaf",
        "classifier-by-hand",
        "classifier-autograd",
        "accumulation",
        "gradients-off",
        "training-loop",
        "higher-order",
        "backward-twice",
    } <= ids


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson["id"])
def test_every_lesson_runs_and_matches_pytorch(lesson: dict[str, Any]) -> None:
    if lesson.get("error"):
        with pytest.raises(ProgramError, match="In plain words"):
            run(lesson["code"], lesson.get("output"))
        return
    graph = run(lesson["code"], lesson.get("output"))
    reference = run_reference(lesson["code"], lesson.get("output"))
    assert graph.stdout == reference.stdout
    for name, info in graph.variables.items():
        assert_close(info.grad, reference.grads[name], f"{lesson['id']}: {name}.grad")
    assert all(check.ok is not False for check in graph.gradcheck.values())


def test_teaching_fields_over_http(client: TestClient) -> None:
    request = {"code": PROGRAMS["seed_chain_rule"], "include": ["gradcheck"]}
    body = client.post("/api/graph", json=request).json()
    assert body["backward_passes"][0]["grads"]["x"] == pytest.approx(-5.4668, abs=1e-4)
    assert body["gradcheck"]["x"]["ok"] is True
    assert body["chain_rule"]["x"]["text"] == "dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668"
    steps = sorted((n["backward_step"], n["op"]) for n in body["nodes"])
    assert [op for _, op in steps] == ["SinBackward0", "PowBackward0", "AccumulateGrad"]
    twice = "import torch\nx = torch.ones(1, requires_grad=True)\ny = (x * 2).sum()\n"
    problem = client.post("/api/graph", json={"code": twice + "y.backward()\ny.backward()\n"})
    assert problem.status_code == 422
    assert "In plain words" in problem.json()["detail"]
