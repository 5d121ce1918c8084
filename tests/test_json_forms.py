"""JSON forms of tensors (app/worker/json_forms.py): the numbers PyTorch holds, computed once."""

import pytest
import torch

from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from app.worker.json_forms import FULL_TENSOR_NUMEL, JsonFormMemo, json_form


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (torch.tensor(0.5), 0.5),
        (torch.tensor(float("nan")), "nan"),
        (torch.tensor([1.0, float("inf"), -float("inf")]), [1.0, "inf", "-inf"]),
        (torch.tensor([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
        (torch.tensor([True, False]), [True, False]),
        (torch.tensor([1.5, -2.0]).to(torch.bfloat16), [1.5, -2.0]),
        (torch.tensor([1.5, -2.0], dtype=torch.float16), [1.5, -2.0]),
        (-torch.tensor([1.0, 2.0]), [-1.0, -2.0]),
        (torch.tensor([1.0, 2.0], requires_grad=True) * 1, [1.0, 2.0]),
        (torch.tensor([1 + 2j]).conj(), ["(1-2j)"]),
    ],
)
def test_small_tensors_are_sent_whole(tensor: torch.Tensor, expected: object) -> None:
    assert json_form(tensor) == expected


def test_large_tensors_are_summarised_in_float64() -> None:
    tensor = torch.arange(FULL_TENSOR_NUMEL + 1, dtype=torch.float32).reshape(-1, 1)
    summary = json_form(tensor)
    assert summary["shape"] == [FULL_TENSOR_NUMEL + 1, 1]
    assert (summary["min"], summary["max"]) == (0.0, float(FULL_TENSOR_NUMEL))
    assert summary["mean"] == pytest.approx(tensor.double().mean().item(), abs=1e-12)
    assert summary["head"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_large_tensors_with_nan_say_so() -> None:
    tensor = torch.zeros(FULL_TENSOR_NUMEL + 1)
    tensor[3] = float("nan")
    assert json_form(tensor)["max"] == "nan"


def test_json_forms_are_remembered_for_the_same_content() -> None:
    memo = JsonFormMemo()
    tensor = torch.tensor([1.0, 2.0])
    first = memo(tensor)
    assert memo(tensor.view(2)) is first  # another view of the same memory and shape


def test_a_changed_tensor_gets_its_json_form_again() -> None:
    memo = JsonFormMemo()
    tensor = torch.tensor([1.0, 2.0])
    assert memo(tensor) == [1.0, 2.0]
    tensor.add_(1)  # in place: same memory, new version
    assert memo(tensor) == [2.0, 3.0]


def test_conjugate_and_negative_views_are_not_confused_with_their_base() -> None:
    memo = JsonFormMemo()
    base = torch.tensor([1 + 2j])
    assert memo(base) == ["(1+2j)"]
    assert memo(base.conj()) == ["(1-2j)"]
    real = torch.tensor([1.0, -2.0])
    negative = torch._neg_view(real)
    assert memo(real) == [1.0, -2.0]
    assert memo(negative) == [-1.0, 2.0]


@pytest.mark.parametrize("size", [3, FULL_TENSOR_NUMEL + 1])
def test_non_finite_values_raise_no_warning_the_learner_would_see(size: int) -> None:
    code = (
        f"import torch\nx = torch.zeros({size})\nx[1] = float('inf')\nx[2] = -float('inf')\n"
        "x.requires_grad_()\ny = (x * 2).sum()\ny.backward()\n"
    )
    graph = evaluate(GraphRequest(code=code), Limits())
    value = graph.variables["x"].value
    if size == 3:
        assert value == [0.0, "inf", "-inf"]
    else:
        assert (value["min"], value["max"], value["mean"]) == ("-inf", "inf", "nan")
    assert not [w for w in graph.warnings if "encountered" in w]
