"""The forward calls of a program, kept so that a tensor can be computed again.

Autograd keeps only what backward needs, so the forward function from a leaf to the root
cannot be rebuilt from the graph. The interpreter instead reports every torch call it makes
(`Call`); the tape keeps those whose result requires grad, keyed by the result's identity.
Replaying them from the root down, with one leaf replaced, computes the root as a function
of that leaf: in float64, without autograd, and without running the program again (which
would repeat its prints, its backward calls and its optimiser steps).

The tape also notes where a program cut the graph: tensors computed from tensors that
require grad but which do not require grad themselves (made under torch.no_grad() or by
.detach()), and leaves switched off with requires_grad_(False).
"""

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from app.worker.sandbox.interpreter import Call
from app.worker.sandbox.kinds import Structure, kind_of

MAX_ENTRIES = 20_000  # a longer program is not replayed: the tape would hold too much
MAX_NESTING = 3  # tensors are looked for this deep in lists, tuples and dicts of arguments


@dataclass(frozen=True)
class Entry:
    """`call` computed the tensor; `index` picks it from a tuple result (-1: the result).
    `sources` are the tensors the call was given (a module's parameters included), found
    once: walks of the tape visit them again and again."""

    call: Call
    index: int
    sources: tuple[torch.Tensor, ...]
    versions: tuple[int, ...] = ()  # each source's version counter when the call was made

    def inputs(self) -> list[torch.Tensor]:
        return list(self.sources)


def _sources(call: Call) -> tuple[torch.Tensor, ...]:
    found = list(_tensors((call.args, call.kwargs), MAX_NESTING))
    if isinstance(call.function, nn.Module):
        found += [p for _, p in _module_tensors(call.function)]
    return tuple(found)


@dataclass(frozen=True)
class Cut:
    """Why a tensor is outside the graph: `how` it was cut, here or in one of its inputs."""

    how: str
    direct: bool

    def note(self) -> str:
        where = "cut from the graph" if self.direct else "computed from a tensor cut from the graph"
        return f"Constant, {where}: {self.how}. No gradient flows back through it."


class ReplayError(Exception):
    """The root cannot be computed again from the tape."""


class WalkTooLongError(ReplayError):
    """The walk of the tape reached the number of visits it was allowed."""


class Tape:
    """Records calls as the interpreter reports them; replays them on request."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[torch.Tensor, Entry]] = {}  # keeps tensors alive
        self.cuts: dict[int, tuple[torch.Tensor, Cut]] = {}
        self.overflowed = False

    def record(self, value: Any, call: Call) -> None:
        outputs = list(enumerate(value)) if isinstance(value, tuple | list) else [(-1, value)]
        inputs = None
        frozen: Call | None = None
        for index, output in outputs[:16]:
            if not isinstance(output, torch.Tensor):
                continue
            inputs = inputs if inputs is not None else _sources(call)
            if any(output is tensor for tensor in inputs):
                continue  # in place: the call does not say how the old value was made
            if output.requires_grad:
                if len(self.entries) >= MAX_ENTRIES:
                    self.overflowed = True
                    return
                if frozen is None:
                    frozen = _frozen_call(call)
                if frozen is not None:  # else not replayable: the walk says so
                    versions = tuple(tensor._version for tensor in inputs)
                    self.entries[id(output)] = (output, Entry(frozen, index, inputs, versions))
            elif len(self.cuts) < MAX_ENTRIES and (cut := self._cut(call, inputs)):
                self.cuts[id(output)] = (output, cut)
        switched_off = call.function is torch.Tensor.requires_grad_ and not value.requires_grad
        if switched_off:
            self.cuts[id(value)] = (value, Cut("switched off with requires_grad_(False)", True))

    def entry(self, tensor: torch.Tensor) -> Entry | None:
        found = self.entries.get(id(tensor))
        return found[1] if found is not None and found[0] is tensor else None

    def cut(self, tensor: torch.Tensor) -> Cut | None:
        found = self.cuts.get(id(tensor))
        return found[1] if found is not None and found[0] is tensor else None

    def _cut(self, call: Call, inputs: tuple[torch.Tensor, ...]) -> Cut | None:
        if any(tensor.requires_grad for tensor in inputs):
            if call.function is torch.Tensor.detach:
                return Cut("detached with .detach()", True)
            if not torch.is_grad_enabled():
                return Cut("computed under torch.no_grad(), which autograd does not record", True)
            return None
        inherited = next((cut for t in inputs if (cut := self.cut(t)) is not None), None)
        return Cut(inherited.how, False) if inherited is not None else None

    def function_of(
        self, root: torch.Tensor, leaves: list[torch.Tensor], max_visits: int | None = None
    ) -> "Replay":
        """The calls from `leaves` to `root`, in an order that computes each input first.

        The walk visits each recorded tensor from the root down, and each input of each call;
        past `max_visits` visits it stops and says so."""
        if self.overflowed:
            raise ReplayError("the program made too many tensors to replay")
        leaf_ids = {id(leaf) for leaf in leaves}  # the leaves are alive: their ids are theirs

        def is_leaf(tensor: torch.Tensor) -> bool:
            return id(tensor) in leaf_ids

        if not is_leaf(root) and self.entry(root) is None:
            raise ReplayError("the root was not made by a call the program made")
        order: list[torch.Tensor] = []
        elements = 0  # read and written by one replay
        depends: dict[int, bool] = {}
        stack: list[tuple[torch.Tensor, bool]] = [(root, False)]
        visits = 0
        while stack:
            tensor, expanded = stack.pop()
            visits += 1
            if max_visits is not None and visits > max_visits:
                raise WalkTooLongError("the program made too many calls to replay within the check")
            key = id(tensor)
            if key in depends and not expanded:
                continue
            entry = self.entry(tensor) if not is_leaf(tensor) else None
            if entry is None and not is_leaf(tensor) and tensor.grad_fn is not None:
                made_by = type(tensor.grad_fn).__name__
                raise ReplayError(
                    f"{made_by} was made by a call the check cannot replay: the program's "
                    "own code run by torch (a custom autograd.Function, a module's hooks) "
                    "or a module's method called directly"
                )
            if entry is None:
                depends[key] = is_leaf(tensor)
                continue
            if not expanded:
                depends[key] = False  # placeholder while the inputs are visited
                stack.append((tensor, True))
                stack.extend((i, False) for i in entry.sources if id(i) not in depends)
                continue
            visits += len(entry.sources)
            depends[key] = any(depends.get(id(i), False) for i in entry.sources)
            if depends[key]:
                _unchanged_since(entry, depends)
                order.append(tensor)
                elements += _elements(entry, tensor)
        differentiates = any(
            entry.call.function is torch.autograd.grad
            for tensor in order
            if (entry := self.entry(tensor)) is not None
        )
        return Replay(self, root, leaves, order, differentiates, visits, elements)


@dataclass
class Replay:
    """The root as a function of leaves: `root = replay(*leaf_values)`, in float64.

    Without autograd, unless the program itself differentiated on the way to the root
    (autograd.grad with create_graph=True, for higher-order gradients): then the replay
    records a graph from the leaf so that those calls can differentiate it again.
    """

    tape: Tape
    root: torch.Tensor
    leaves: list[torch.Tensor]
    order: list[torch.Tensor]
    differentiates: bool
    visits: int = 0  # the walk of the tape that found `order`
    elements: int = 0  # elements one replay reads and writes

    @property
    def calls(self) -> int:
        return len(self.order)

    def __call__(self, *leaf_values: torch.Tensor) -> torch.Tensor:
        computed: dict[int, torch.Tensor] = {}
        for leaf, value in zip(self.leaves, leaf_values, strict=True):
            start = computed[id(leaf)] = value.detach()
            if self.differentiates:  # never otherwise: vmap (app.worker.gradcheck) refuses the call
                start.requires_grad_()

        def value_of(tensor: torch.Tensor) -> torch.Tensor:
            found = computed.get(id(tensor))  # not .get(key, default): that copies every time
            return found if found is not None else _float64(tensor)

        with torch.set_grad_enabled(self.differentiates):
            for tensor in self.order:
                entry = self.tape.entry(tensor)
                assert entry is not None
                computed[id(tensor)] = _run(entry, value_of)
        return value_of(self.root).detach()


def _run(entry: Entry, value_of: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    call = entry.call
    args = _substitute(call.args, value_of, MAX_NESTING)
    kwargs = _substitute(call.kwargs, value_of, MAX_NESTING)
    if isinstance(call.function, nn.Module):
        # The module's own parameters may be the leaf: pass them in explicitly.
        # A module's forward may write its buffers (batch norm's num_batches_tracked): the
        # replay's are copies, never the program's (floating ones are float64 copies).
        state = {name: _own(value_of(t)) for name, t in _module_tensors(call.function)}
        result = torch.func.functional_call(call.function, state, args, kwargs)
    else:
        result = call.function(*args, **kwargs)
    picked = result if entry.index < 0 else result[entry.index]
    if not isinstance(picked, torch.Tensor):
        raise ReplayError(f"replaying {getattr(call.function, '__name__', call.function)}")
    return picked


# Calls whose work grows with a contracted dimension, not only with what they read and write.
CONTRACTIONS: frozenset[Any] = frozenset(
    {
        operator.matmul,
        torch.matmul,
        torch.mm,
        torch.bmm,
        torch.mv,
        torch.dot,
        torch.inner,
        torch.einsum,
        torch.tensordot,
        torch.addmm,
        torch.cdist,
        F.linear,
        F.bilinear,
        torch.Tensor.matmul,
        torch.Tensor.__matmul__,
        torch.Tensor.mm,
        torch.Tensor.bmm,
        torch.Tensor.mv,
        torch.Tensor.dot,
        torch.Tensor.inner,
        torch.Tensor.addmm,
    }
)


# Convolutions: each element of the output (of the input, for a transposed one) is a sum of
# products over one slice of the weight, `weight[0]`.
CONVOLUTION_FUNCTIONS: frozenset[Any] = frozenset(
    {
        F.conv1d,
        F.conv2d,
        F.conv3d,
        F.conv_transpose1d,
        F.conv_transpose2d,
        F.conv_transpose3d,
    }
)

CONVOLUTION_LAYERS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def _elements(entry: Entry, output: torch.Tensor) -> int:
    """An upper estimate of the elements one replay of `entry` reads, writes and multiplies:
    what it reads and writes; for a product, the output times the longest dimension of an
    input (the contracted one is at most that); for a convolution, the larger of its input
    and output times a slice of its weight; for a module, whose inner calls the tape does
    not see, every parameter once per row of its input (a linear layer's or a recurrent
    cell's multiplications), or a convolution's count."""
    function = entry.call.function
    moved = output.numel() + sum(source.numel() for source in entry.sources)
    convolved = _convolution_products(function, entry.sources, output)
    if convolved is not None:
        return moved + convolved
    if isinstance(function, nn.Module):
        parameters = {id(p) for _, p in _module_tensors(function)}
        weights = sum(s.numel() for s in entry.sources if id(s) in parameters)
        rows = max(
            (
                s.numel() // max(1, s.shape[-1])
                for s in entry.sources
                if id(s) not in parameters and s.dim() > 0
            ),
            default=1,
        )
        return moved + weights * max(1, rows)
    if function in CONTRACTIONS:
        longest = max((max(s.shape, default=1) for s in entry.sources), default=1)
        return moved + output.numel() * longest
    return moved


def _convolution_products(
    function: Any, sources: tuple[torch.Tensor, ...], output: torch.Tensor
) -> int | None:
    """The multiplications of a convolution, by layer or by function; None for any other
    call. Every element of the larger of input and output is counted as a product with a
    whole slice of the weight: exact for a plain or transposed convolution, more for others."""
    if isinstance(function, CONVOLUTION_LAYERS):
        weight: Any = function.weight
    elif function in CONVOLUTION_FUNCTIONS and len(sources) >= 2:
        weight = sources[1]
    else:
        return None
    if not isinstance(weight, torch.Tensor) or weight.dim() == 0:
        return None
    larger = max((source.numel() for source in sources[:1]), default=0)
    return max(larger, output.numel()) * weight[0].numel()


def _unchanged_since(entry: Entry, depends: dict[int, bool]) -> None:
    """Refuse to replay a call whose tensors the program changed in place after it: the
    replay would hand torch values the guard never saw with that call. Those the replay
    computes again from the leaves are its own, whatever became of the program's."""
    for tensor, version in zip(entry.sources, entry.versions, strict=True):
        if not depends.get(id(tensor), False) and tensor._version != version:
            raise ReplayError(
                "the program changed a tensor in place after using it (an optimiser step, "
                "an in-place operation or a .data write): the forward pass cannot be "
                "computed again as it was"
            )


def _frozen_call(call: Call) -> Call | None:
    """The call with its lists, tuples and dicts copied as they are now (tensors and other
    values kept), so that a program changing a list after the call (F.pad(x, p); p[0] =
    10**9) does not change what a replay passes; None when they nest deeper than a replay
    looks for tensors."""
    try:
        args = _substitute(call.args, _kept, MAX_NESTING + 1, _too_deep)
        kwargs = _substitute(call.kwargs, _kept, MAX_NESTING + 1, _too_deep)
    except _TooDeepError:
        return None
    return Call(call.function, args, kwargs)


class _TooDeepError(Exception):
    pass


def _kept(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _too_deep(value: Any) -> Any:
    raise _TooDeepError


def _own(value: torch.Tensor) -> torch.Tensor:
    """`value`, not sharing memory with a tensor of the program's: floating tensors are
    float64 copies or the replay's own already; others (counters, indices) are copied."""
    return value if value.is_floating_point() else value.clone()


def _float64(tensor: torch.Tensor) -> torch.Tensor:
    value = tensor.detach()
    return value.double() if value.is_floating_point() else value


def _substitute(
    value: Any,
    replace: Callable[[torch.Tensor], torch.Tensor],
    depth: int,
    too_deep: Callable[[Any], Any] | None = None,
) -> Any:
    """`value` with each tensor replaced, its lists, tuples and dicts rebuilt `depth` levels
    down; a list, tuple or dict deeper is kept as it is, or handed to `too_deep`."""
    if isinstance(value, torch.Tensor):
        return replace(value)
    structure = kind_of(value).structure
    if structure == Structure.NONE:
        return value
    if depth <= 0:
        return value if too_deep is None else too_deep(value)
    if structure == Structure.SEQUENCE:
        items = [_substitute(item, replace, depth - 1, too_deep) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if structure == Structure.MAPPING:
        return {key: _substitute(item, replace, depth - 1, too_deep) for key, item in value.items()}
    return value


def _tensors(value: Any, depth: int) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif depth > 0:
        structure = kind_of(value).structure
        if structure != Structure.NONE:
            items = value.values() if structure == Structure.MAPPING else value
            for item in items:
                yield from _tensors(item, depth - 1)


def _module_tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [*module.named_parameters(), *module.named_buffers()]
