"""The timeline of backward passes: what .grad held after each, for the accumulation lesson.

After every backward pass the .grad and value of every named leaf is recorded. .grad can
also change between passes (x.grad.zero_(), optimizer.zero_grad()); such a change is its
own entry, "reset" (to zero or None) or "changed", found by comparing the state before a
pass, and at the end of the program, with the entry before.

The timeline is bounded: once its entries hold MAX_STATES leaf states (a leaf's .grad and
value), each new entry replaces the one after them, so the timeline still ends where the
program ends, and the answer says how many were left out.
"""

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from app.contract.schemas import BackwardPassInfo
from app.worker.json_forms import ToJsonForm
from app.worker.sandbox.classes import UserObject

MAX_STATES = 4_096  # leaf states kept over all entries (each up to 100 numbers, twice)


def named_tensors(names: dict[str, Any]) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors bound to names, module parameters by path (model.0.weight), and tensors held
    by an object of the program's plain classes (layer.w)."""
    for name, value in names.items():
        if isinstance(value, torch.Tensor):
            yield name, value
        elif isinstance(value, nn.Module):
            for path, parameter in value.named_parameters():
                yield f"{name}.{path}", parameter
        elif isinstance(value, UserObject):
            for attribute, item in value.attributes.items():
                if isinstance(item, torch.Tensor):
                    yield f"{name}.{attribute}", item


class PassLog:
    """Builds the `backward_passes` list as the program runs."""

    def __init__(self) -> None:
        self.entries: list[BackwardPassInfo] = []
        self.states = 0  # leaf states the entries hold, the last one aside once over
        self.over = False  # the last entry stands for the latest of those left out
        self.left_out = 0

    def notes(self) -> list[str]:
        if not self.left_out:
            return []
        return [
            f"backward_passes lists the first {len(self.entries) - 1} entries and the last; "
            f"the {self.left_out:,} in between are left out to keep the answer small."
        ]

    def _add(self, entry: BackwardPassInfo) -> None:
        if self.over:
            self.entries[-1] = entry
            self.left_out += 1
        elif self.states + len(entry.grads) <= MAX_STATES or not self.entries:
            self.entries.append(entry)
            self.states += len(entry.grads)
        else:
            self.entries.append(entry)
            self.over = True

    def before(self, names: dict[str, Any], json_form: ToJsonForm) -> None:
        """Call before a pass and at the end: notes any change of .grad since the last entry."""
        if not self.entries:
            return
        last = self.entries[-1].grads
        grads, values = _state(names, json_form)
        changed = {name for name, grad in grads.items() if name in last and last[name] != grad}
        if not changed:
            return
        reset = all(_is_zero(grads[name]) for name in changed)
        self._add(
            BackwardPassInfo(
                kind="reset" if reset else "changed", root=None, grads=grads, values=values
            )
        )

    def after(
        self, started_by: str, root: str | None, names: dict[str, Any], json_form: ToJsonForm
    ) -> None:
        grads, values = _state(names, json_form)
        self._add(BackwardPassInfo(kind=started_by, root=root, grads=grads, values=values))


def _state(names: dict[str, Any], json_form: ToJsonForm) -> tuple[dict[str, Any], dict[str, Any]]:
    grads, values = {}, {}
    for name, tensor in named_tensors(names):
        if tensor.is_leaf and (tensor.requires_grad or tensor.grad is not None):
            grads[name] = json_form(tensor.grad)
            values[name] = json_form(tensor)
    return grads, values


def _is_zero(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_zero(item) for item in value)
    if isinstance(value, dict):  # a summary of a large tensor
        return bool(value.get("min") == value.get("max") == 0)
    return value is None or value == 0
