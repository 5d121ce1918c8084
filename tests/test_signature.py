"""Dry-run signatures: equal for same shapes, different where the result size may differ."""

import pytest
import torch

from app.contract.settings import Limits
from app.worker.sandbox.guard import DRY_RUN_SIZES, Budget, Guard
from app.worker.sandbox.signature import MAX_ITEMS, MAX_TEXT, SizeMemo, UnsizedError, signature


def test_values_do_not_matter_shapes_and_types_do() -> None:
    assert signature((torch.zeros(2, 3), 1)) == signature((torch.ones(2, 3), 1))
    assert signature(torch.zeros(2, 3)) != signature(torch.zeros(3, 2))
    assert signature(torch.zeros(2)) != signature(torch.zeros(2, dtype=torch.int64))
    assert len({signature(1), signature(1.0), signature(True)}) == 3
    assert signature([slice(0, 2)]) != signature([slice(0, 3)])


def test_unknown_or_large_values_have_no_signature() -> None:
    for value in (object(), "x" * (MAX_TEXT + 1), list(range(MAX_ITEMS))):
        with pytest.raises(UnsizedError):
            signature(value)


def test_remembered_dry_run_still_charges_the_budget() -> None:
    budget = Budget(Limits())
    guard = Guard(budget)
    a, b = torch.ones(3), torch.ones(5)  # an outer product: sized by a meta run
    guard.dry_run("outer", torch.outer, (a, b), {})
    guard.dry_run("outer", torch.outer, (a * 2, b), {})
    assert budget.elements == 2 * 15
    assert DRY_RUN_SIZES.get((torch.outer, signature((a, b)), signature({}))) == 15


def test_memo_is_bounded() -> None:
    memo = SizeMemo(max_entries=1)
    memo.put("a", 1)
    memo.put("b", 2)
    assert (memo.get("a"), memo.get("b")) == (1, None)


def test_a_module_is_run_on_meta_tensors_once_per_settings_and_shapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budget = Budget(Limits())
    guard = Guard(budget)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.Flatten()
    )
    guard.call_module(model, (torch.ones(1, 1, 4, 4),), {})
    first = budget.elements

    def no_second_meta_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the module's sizes were not remembered")

    monkeypatch.setattr(torch.func, "functional_call", no_second_meta_run)
    guard.call_module(model, (torch.zeros(1, 1, 4, 4),), {})
    assert budget.elements == 2 * first  # each call still charged
    model.eval()  # other settings: a new meta run
    with pytest.raises(AssertionError, match="not remembered"):
        guard.call_module(model, (torch.zeros(1, 1, 4, 4),), {})
