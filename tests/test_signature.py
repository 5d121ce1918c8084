"""Dry-run signatures: equal for same shapes, different where the result size may differ."""

import pytest
import torch

from app.sandbox.guard import DRY_RUN_SIZES, Budget, Guard
from app.sandbox.signature import MAX_ITEMS, MAX_TEXT, SizeMemo, UnsizedError, signature
from app.settings import Limits


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
    a, b = torch.ones(3, 7), torch.ones(7, 5)
    guard.dry_run("'@'", torch.matmul, (a, b), {})
    guard.dry_run("'@'", torch.matmul, (a * 2, b), {})
    assert budget.elements == 2 * 15
    assert DRY_RUN_SIZES.get((torch.matmul, signature((a, b)), signature({}))) == 15


def test_memo_is_bounded() -> None:
    memo = SizeMemo(max_entries=1)
    memo.put("a", 1)
    memo.put("b", 2)
    assert (memo.get("a"), memo.get("b")) == (1, None)
