"""Which module call made each node: `nodes[].module`, `nodes[].call` and `groups`.

While the program runs, global forward hooks (torch's, so they see every module call: the
program's own classes, whose forward the interpreter runs, and the layers torch runs inside
built-in modules, such as a TransformerEncoderLayer's self_attn) note where each call began
and ended in autograd's sequence numbers. Every node autograd makes takes the next number of
a per-thread counter, so a node belongs to the innermost call whose span holds its number.
The hooks live only in the job process and only while the program runs; user code never
sees them (it has no way to name them).

Paths come from the modules the program holds at its end: `model.encoder.layers.0` for a
submodule of the variable `model`, `layers[1]` for a module in a list. A module bound to no
name is called by its class (`Linear#2`, the second such module).
"""

import bisect
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as torch_module

from app.contract.schemas import EdgeInfo, GroupInfo, NodeInfo

# How deep a list or dict of modules is searched for paths (layers[0][1]).
PATH_NESTING = 3
MAX_CALLS = 100_000  # beyond this, further calls go unrecorded (their nodes are their parent's)


@dataclass
class ModuleCall:
    """One call of one module: its span in autograd's sequence numbers."""

    module: nn.Module
    index: int  # which call of this module, 0-based
    parent: "ModuleCall | None"
    start: int
    end: float = math.inf  # until it returns (a call that raised never does)
    depth: int = 0
    number: int = field(default=-1)  # its group id, once it has nodes


class ModuleCalls:
    """Records module calls while `recording()`, then tells each node its call."""

    def __init__(self) -> None:
        self.calls: list[ModuleCall] = []
        self.stack: list[ModuleCall | None] = []
        self.counts: dict[int, int] = {}
        self.held: list[nn.Module] = []  # keeps each module alive, so id() stays its own
        self._mark_source: torch.Tensor | None = None

    def _mark(self) -> int:
        """The next sequence number: that of a node made now and thrown away."""
        if self._mark_source is None:
            self._mark_source = torch.zeros((), requires_grad=True)
        node = self._mark_source.view(()).grad_fn
        assert node is not None
        return int(node._sequence_nr())

    def _before(self, module: nn.Module, _args: Any) -> None:
        # Calls made without autograd (the guard's dry runs on meta tensors, no_grad blocks)
        # make no nodes; they are not counted as calls.
        if not torch.is_grad_enabled() or len(self.calls) >= MAX_CALLS:
            self.stack.append(None)
            return
        key = id(module)
        if key not in self.counts:
            self.held.append(module)
        index = self.counts.get(key, 0)
        self.counts[key] = index + 1
        parent = next((call for call in reversed(self.stack) if call is not None), None)
        call = ModuleCall(module, index, parent, self._mark())
        call.depth = parent.depth + 1 if parent else 0
        self.calls.append(call)
        self.stack.append(call)

    def _after(self, _module: nn.Module, _args: Any, _output: Any) -> None:
        if not self.stack:
            return
        call = self.stack.pop()
        if call is not None:
            with torch.enable_grad():
                call.end = self._mark()

    @contextmanager
    def recording(self) -> Iterator[None]:
        before = torch_module.register_module_forward_pre_hook(self._before)
        after = torch_module.register_module_forward_hook(self._after, always_call=True)
        try:
            yield
        finally:
            before.remove()
            after.remove()
            self.stack.clear()

    def owners(self, sequence: dict[int, int]) -> dict[int, ModuleCall]:
        """Node id -> the innermost call whose span holds its sequence number."""
        starts = [call.start for call in self.calls]
        found: dict[int, ModuleCall] = {}
        for node_id, number in sequence.items():
            # The last call to start before the node, then out through its parents to the
            # first one still open when the node was made.
            at = bisect.bisect_left(starts, number) - 1
            call = self.calls[at] if at >= 0 else None
            while call is not None and not call.end > number:
                call = call.parent
            if call is not None:
                found[node_id] = call
        return found


def module_paths(names: dict[str, Any]) -> dict[int, str]:
    """id(module) -> its path, from the modules the program holds by name."""
    paths: dict[int, str] = {}

    def visit(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, nn.Module):
            for path, sub in value.named_modules():
                paths.setdefault(id(sub), f"{prefix}.{path}" if path else prefix)
        elif depth < PATH_NESTING and isinstance(value, list | tuple):
            for position, item in enumerate(value[:1000]):
                visit(f"{prefix}[{position}]", item, depth + 1)
        elif depth < PATH_NESTING and isinstance(value, dict):
            for key, item in list(value.items())[:1000]:
                if isinstance(key, str | int):
                    visit(f"{prefix}[{key!r}]", item, depth + 1)

    # Plain names first: `model` names its layers before a list that also holds them.
    ordered = sorted(names.items(), key=lambda item: not isinstance(item[1], nn.Module))
    for name, value in ordered:
        visit(name, value, 0)
    return paths


def attribute(
    calls: ModuleCalls,
    sequence: dict[int, int],
    nodes: list[NodeInfo],
    edges: list[EdgeInfo],
    names: dict[str, Any],
    leaves: dict[int, int],
) -> tuple[list[NodeInfo], list[GroupInfo]]:
    """The nodes with `module` and `call` filled in, and one group per module call that made
    any of them (with the calls around it). `sequence`: node id -> autograd's sequence number
    of an operation; `leaves`: node id -> id() of a leaf's tensor."""
    owners = calls.owners(sequence)
    kept: list[ModuleCall] = []
    for owner in {id(c): c for c in owners.values()}.values():
        around: ModuleCall | None = owner
        while around is not None and around.number == -1:
            around.number = -2  # seen
            kept.append(around)
            around = around.parent
    kept.sort(key=lambda call: call.start)
    for number, call in enumerate(kept):
        call.number = number
    _place_parameters(owners, nodes, edges, leaves)
    paths = module_paths(names)
    unnamed: dict[int, str] = {}
    type_counts: dict[str, int] = {}

    def path_of(module: nn.Module) -> str:
        key = id(module)
        if key in paths:
            return paths[key]
        if key not in unnamed:
            type_name = type(module).__name__
            type_counts[type_name] = type_counts.get(type_name, 0) + 1
            unnamed[key] = f"{type_name}#{type_counts[type_name]}"
        return unnamed[key]

    members: dict[int, list[int]] = {call.number: [] for call in kept}
    updated = []
    for node in nodes:
        made_by = owners.get(node.id)
        if made_by is None:
            updated.append(node)
            continue
        members[made_by.number].append(node.id)
        updated.append(
            node.model_copy(update={"module": path_of(made_by.module), "call": made_by.index})
        )
    groups = [
        GroupInfo(
            id=call.number,
            module=path_of(call.module),
            type=type(call.module).__name__,
            call=call.index,
            parent=call.parent.number if call.parent is not None else None,
            nodes=members[call.number],
        )
        for call in kept
    ]
    return updated, groups


def _place_parameters(
    owners: dict[int, ModuleCall],
    nodes: list[NodeInfo],
    edges: list[EdgeInfo],
    leaves: dict[int, int],
) -> None:
    """A module's parameter goes inside the innermost call holding every use of it, when
    that call's module owns it: collapsed, the call's box stands for its weights too. Other
    leaves (the program's inputs) and constants stay where they are, outside."""
    uses: dict[int, list[ModuleCall | None]] = {}
    for edge in edges:
        uses.setdefault(edge.source, []).append(owners.get(edge.target))
    for node in nodes:
        if node.kind != "leaf" or node.id not in uses:
            continue
        common = _common(uses[node.id])
        while common is not None and not _owns(common.module, leaves.get(node.id)):
            common = common.parent
        if common is not None:
            owners[node.id] = common


def _common(calls: list[ModuleCall | None]) -> ModuleCall | None:
    """The innermost call that holds all of `calls` (None: top level)."""
    common = calls[0]
    for call in calls[1:]:
        a, b = common, call
        while a is not None and b is not None and a is not b:
            if a.depth >= b.depth:
                a = a.parent
            else:
                b = b.parent
        common = a if a is b else None
        if common is None:
            return None
    return common


def _owns(module: nn.Module, tensor: int | None) -> bool:
    """Whether the leaf's tensor is one of the module's parameters (or its submodules')."""
    return tensor is not None and any(id(p) == tensor for p in module.parameters())
