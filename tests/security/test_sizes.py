"""Sizes are known before torch allocates: the dry run, not the charge after the call."""

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from app.contract.errors import ProgramError
from app.contract.settings import Limits
from app.worker.sandbox.guard import Budget, Guard

BIG = torch.tensor(10**8)
CASES: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("arange float end", torch.arange, (torch.tensor(2.5e8),), {}),
    ("arange start end", torch.arange, (0, BIG, 1), {}),
    ("zeros", torch.zeros, (BIG,), {}),
    ("zeros one-element", torch.zeros, (torch.tensor([10**8]),), {}),
    ("zeros nested", torch.zeros, ((BIG, 2),), {}),
    ("full", torch.full, ((BIG,), 1.0), {}),
    ("linspace", torch.linspace, (0, 1, BIG), {}),
    ("logspace steps=", torch.logspace, (0, 1), {"steps": BIG}),
    ("randperm", torch.randperm, (BIG,), {}),
    ("randint", torch.randint, (0, 9, (BIG,)), {}),
    ("eye", torch.eye, (BIG,), {}),
    ("new_zeros", torch.Tensor.new_zeros, (torch.ones(1), BIG), {}),
    ("repeat", torch.Tensor.repeat, (torch.ones(4), BIG), {}),
    ("expand", torch.Tensor.expand, (torch.ones(1), BIG, BIG), {}),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_size_given_as_a_tensor_is_refused_by_the_dry_run(
    case: tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]],
) -> None:
    name, function, args, kwargs = case
    guard = Guard(Budget(Limits()))
    with pytest.raises(ProgramError, match="elements"):
        guard.dry_run(name, function, args, kwargs)


def test_small_size_as_a_tensor_is_sized_and_not_remembered_for_bigger_ones() -> None:
    guard = Guard(Budget(Limits()))
    assert guard.dry_run("zeros", torch.zeros, (torch.tensor(3),), {})
    assert guard.budget.elements == 3
    with pytest.raises(ProgramError, match="elements"):
        guard.dry_run("zeros", torch.zeros, (torch.tensor(10**8),), {})


def test_module_sized_by_tensors_is_not_remembered_by_their_shape() -> None:
    guard = Guard(Budget(Limits()))
    guard._check_module_size("Linear", nn.Linear, (torch.tensor(2), 2), {})
    with pytest.raises(ProgramError, match="elements"):
        guard._check_module_size(
            "Linear", nn.Linear, (torch.tensor(10**5), torch.tensor(10**5)), {}
        )
