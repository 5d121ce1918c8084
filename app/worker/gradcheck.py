"""The "gradient by hand versus autograd" lesson, done for the learner.

For each leaf of the drawn graph, d(root)/d(leaf) is estimated by central differences,
(f(x + h) - f(x - h)) / 2h, where f recomputes the root from the leaf by replaying the
program's recorded forward calls in float64 (see app.worker.tape), and compared with the
gradient autograd delivered to the leaf in the same backward pass. A non-scalar root is
checked as its sum, as the server backpropagates it with ones.

Each leaf of up to MAX_LEAF_NUMEL elements is moved element by element, which gives its
whole numeric gradient: the points of all leaves of more than POINT_BY_POINT_MAX elements
are replayed together, in one call vectorised by torch.func.vmap, wherever the calls allow
it; the rest one point at a time. A leaf larger than that, or whose points would pass the
share of the work, is moved along one random direction instead (three replays, whatever its
size), so that a real model's weights are checked too.

The work is bounded by counting it before it is done, never by a clock: at most
`gradcheck_max_leaves` leaves; element by element, leaves of at most MAX_LEAF_NUMEL
elements, at most `gradcheck_max_calls` tape entries walked and torch calls replayed (a
vectorised call counting BATCHED_CALL_COST) and `gradcheck_max_elements` elements read,
written and multiplied by the replayed calls, all points together; along directions, as many
calls and `gradcheck_max_direction_elements` elements. Whatever would pass a bound is not
started, and the leaves it leaves out say so.
"""

import contextlib
import math
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from app.contract.schemas import DirectionCheck, GradCheckInfo
from app.contract.settings import Limits
from app.contract.text import without_addresses
from app.worker.json_forms import dense_coo, finite, json_form
from app.worker.tape import Replay, ReplayError, Tape, WalkTooLongError

MAX_LEAF_NUMEL = 64  # moved element by element
MAX_DIRECTION_NUMEL = 4_000_000  # moved along a direction: 32 MB of float64 a point
MAX_BATCH_ELEMENTS = 1_000_000  # 8 MB of float64 across a batched replay's intermediates
BATCHED_CALL_COST = 8  # plain calls one vectorised call is counted as
POINT_BY_POINT_MAX = 2  # a lesson's scalar leaf: its 3 plain replays cost less than vmap's
STEP = 1e-6  # float64: the truncation error h^2 and rounding error eps/h are both ~1e-10
RTOL = 1e-3  # autograd's own value is float32
ATOL = 1e-4
NO_GRADIENT = "autograd gave this leaf no gradient"


@dataclass
class LeafGradient:
    """A leaf of the drawn graph and the gradient autograd gave it in that pass."""

    name: str
    tensor: torch.Tensor
    autograd: torch.Tensor | None


class OutOfShareError(ReplayError):
    """The work would pass the share: a leaf's elements are then checked along a direction."""


class TooManyElementsError(ReplayError):
    """A leaf too large to move element by element: it is checked along a direction."""


@dataclass
class GradcheckShare:
    """The work the check may still do, spent before it is done."""

    calls: int  # tape entries walked and torch calls replayed
    elements: int  # elements the replayed calls read and write

    def spend(self, calls: int, elements: int = 0) -> None:
        if calls > self.calls or elements > self.elements:
            raise OutOfShareError(
                "the gradient check's share of the work is used up (it replays the program "
                "once per element moved up and down)"
            )
        self.calls -= calls
        self.elements -= elements

    def refund(self, calls: int) -> None:
        self.calls += max(0, calls)

    def replay(self, replay: Replay, points: int = 1) -> None:
        """One plain replay per point."""
        self.spend(replay.calls * points, replay.elements * points)


def check_gradients(
    tape: Tape,
    root: torch.Tensor,
    leaves: list[LeafGradient],
    seeded_with_ones: bool,
    limits: Limits,
) -> dict[str, GradCheckInfo]:
    """A GradCheckInfo per leaf; `ok` is None when no numeric value could be computed."""
    share = GradcheckShare(limits.gradcheck_max_calls, limits.gradcheck_max_elements)
    directions_share = GradcheckShare(
        limits.gradcheck_max_calls, limits.gradcheck_max_direction_elements
    )
    over = leaves[limits.gradcheck_max_leaves :]
    leaves = leaves[: limits.gradcheck_max_leaves]
    skipped = {
        leaf.name: _skipped(
            leaf, f"the check covers the first {limits.gradcheck_max_leaves} leaves only"
        )
        for leaf in over
    }
    checked = _checked(tape, root, leaves, seeded_with_ones, share, directions_share)
    return {**checked, **skipped}


def _checked(
    tape: Tape,
    root: torch.Tensor,
    leaves: list[LeafGradient],
    seeded_with_ones: bool,
    share: GradcheckShare,
    directions_share: GradcheckShare,
) -> dict[str, GradCheckInfo]:
    """Each leaf element by element, within `share`; a leaf too large for that, or past
    `share`, along one direction, within a share of its own (two replays a leaf, whatever its
    size: what a real model's weights are checked by)."""
    if not root.is_floating_point():
        # Complex: the gradient autograd gives is a convention (conjugate Wirtinger), not the
        # slope that differences of a real function measure.
        why = "the root is not a real floating-point tensor"
        return {leaf.name: _skipped(leaf, why) for leaf in leaves}
    if root.numel() != 1 and not seeded_with_ones:
        why = "backward() started from a gradient the program chose"
        return {leaf.name: _skipped(leaf, why) for leaf in leaves}
    vectorised = [leaf for leaf in leaves if _vectorised(leaf)]
    numerics = _numeric_together(tape, root, vectorised, share)
    checks = {}
    for leaf in leaves:
        try:
            numeric = numerics.get(leaf.name)
            if numeric is None and len(vectorised) > 1 and _vectorised(leaf):
                # One leaf's calls may be what vmap could not run: the others were lost too.
                numeric = _numeric_together(tape, root, [leaf], share).get(leaf.name)
            if numeric is None:
                numeric = _numeric(tape, root, leaf, share)
            checks[leaf.name] = _compared(leaf, numeric)
        except (TooManyElementsError, OutOfShareError) as error:
            along = _direction(tape, root, leaf, directions_share)
            checks[leaf.name] = _along_only(leaf, along, error)
        except ReplayError as error:
            checks[leaf.name] = _skipped(leaf, str(error))
        except Exception as error:  # an unusual kind of tensor: a note, never a failed request
            checks[leaf.name] = _skipped(leaf, f"it could not be compared ({type(error).__name__})")
    return checks


def _compared(leaf: LeafGradient, numeric: torch.Tensor) -> GradCheckInfo:
    """The verdict on one leaf; a gradient that cannot be compared is a note, not a failure."""
    if leaf.autograd is None:
        return GradCheckInfo(autograd=None, numeric=json_form(numeric), ok=False, note=NO_GRADIENT)
    autograd = _autograd(leaf, numeric.shape)
    ok = torch.allclose(autograd.double(), numeric, rtol=RTOL, atol=ATOL)
    return GradCheckInfo(autograd=json_form(leaf.autograd), numeric=json_form(numeric), ok=ok)


def _autograd(leaf: LeafGradient, shape: torch.Size) -> torch.Tensor:
    """The gradient autograd delivered, dense, of the leaf's shape now."""
    autograd = leaf.autograd
    assert autograd is not None
    if autograd.layout == torch.sparse_coo:  # embedding(sparse=True): the same numbers, dense
        autograd = dense_coo(autograd)
    if autograd.shape != shape:
        raise ReplayError(
            f"the leaf's shape changed after backward (from {list(autograd.shape)} to "
            f"{list(shape)}, through .data)"
        )
    return autograd


def _along_only(
    leaf: LeafGradient, along: DirectionCheck | str, why: TooManyElementsError | OutOfShareError
) -> GradCheckInfo:
    """A leaf not checked element by element (`why`): its verdict along its direction."""
    if not isinstance(along, DirectionCheck):
        return _skipped(leaf, along)
    if leaf.autograd is None:
        note = NO_GRADIENT
    elif isinstance(why, TooManyElementsError):
        note = (
            f"checked along one random direction: its {leaf.tensor.numel():,} elements are "
            f"too many to move one at a time (up to {MAX_LEAF_NUMEL})"
        )
    else:
        note = (
            "checked along one random direction: moving its elements one at a time would "
            "pass the check's share of the work"
        )
    return GradCheckInfo(
        autograd=json_form(leaf.autograd), numeric=None, ok=along.ok, note=note, direction=along
    )


def _skipped(leaf: LeafGradient, why: str) -> GradCheckInfo:
    note = f"not checked: {why}"
    return GradCheckInfo(autograd=json_form(leaf.autograd), numeric=None, ok=None, note=note)


def direction(name: str, shape: torch.Size) -> torch.Tensor:
    """The direction leaf `name` is moved along: every element up or down by the same step,
    the signs drawn from a generator seeded by the name (so a program always gets the same
    answer, and no global random state is touched), of length 1."""
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    signs = torch.randint(0, 2, shape, generator=generator).double() * 2 - 1
    return signs / math.sqrt(max(1, signs.numel()))


def _direction(
    tape: Tape, root: torch.Tensor, leaf: LeafGradient, share: GradcheckShare
) -> DirectionCheck | str:
    """The leaf's check along its direction, or why it has none; the replay is of the calls
    that depend on the leaf only (a model's last layer costs little)."""
    if leaf.tensor.numel() > MAX_DIRECTION_NUMEL:
        return f"the leaf has more than {MAX_DIRECTION_NUMEL:,} elements"
    try:
        replay = _function_of(tape, root, [leaf.tensor], share)
        base = leaf.tensor.detach().double()
        _replayed_again(replay, [base], root, share)
    except ReplayError as error:
        return str(error)
    return _slope(replay, base, leaf, share)


def _slope(
    replay: Replay, base: torch.Tensor, leaf: LeafGradient, share: GradcheckShare
) -> DirectionCheck | str:
    """The leaf moved up and down along its direction from `base`, its value."""
    along = direction(leaf.name, base.shape)
    try:
        share.replay(replay, 2)
        with _replaying():
            upper, lower = (replay(base + sign * STEP * along).sum() for sign in (1.0, -1.0))
            numeric = float((upper - lower) / (2 * STEP))
            if leaf.autograd is None:
                return DirectionCheck(autograd=None, numeric=finite(numeric), ok=False)
            autograd = _autograd(leaf, base.shape).double()
    except ReplayError as error:
        return str(error)
    slope = float((autograd * along).sum())
    ok = math.isfinite(numeric) and abs(slope - numeric) <= ATOL + RTOL * float(autograd.norm())
    return DirectionCheck(autograd=finite(slope), numeric=finite(numeric), ok=ok)


def _vectorised(leaf: LeafGradient) -> bool:
    """Leaves whose points are replayed together by vmap, rather than one by one."""
    size = leaf.tensor.numel()
    return POINT_BY_POINT_MAX < size <= MAX_LEAF_NUMEL and leaf.tensor.is_floating_point()


def _numeric_together(
    tape: Tape, root: torch.Tensor, leaves: list[LeafGradient], share: GradcheckShare
) -> dict[str, torch.Tensor]:
    """The numeric gradients of leaves from one vectorised replay (torch.func.vmap) of all
    their points: vmap's cost is mostly per call, not per point, so an MLP's four leaves cost
    about what one did. Empty where that replay cannot be made: the leaves are then replayed
    point by point (`_numeric`), which also says why one cannot be checked."""
    if not leaves:
        return {}
    bases = [leaf.tensor.detach().double() for leaf in leaves]
    try:
        replay = _function_of(tape, root, [leaf.tensor for leaf in leaves], share)
        if replay.differentiates:
            return {}  # autograd.grad inside vmap needs the functorch transforms instead
        again = _replayed_again(replay, bases, root, share)
        values = _batched(replay, _points(bases), share)
    except Exception:  # the program's own calls on new values: see _numeric
        return {}
    if values is None or not torch.allclose(values[0], again.sum(), rtol=1e-12, atol=1e-12):
        return {}
    return {
        leaf.name: numeric
        for leaf, numeric in zip(leaves, _differences(values, bases), strict=True)
    }


def _numeric(
    tape: Tape, root: torch.Tensor, leaf: LeafGradient, share: GradcheckShare
) -> torch.Tensor:
    """One leaf's numeric gradient, replaying its points one by one."""
    if not leaf.tensor.is_floating_point():  # first: no direction checks a complex leaf
        raise ReplayError("the leaf is not a floating-point tensor")
    if leaf.tensor.numel() > MAX_LEAF_NUMEL:
        raise TooManyElementsError(f"the leaf has more than {MAX_LEAF_NUMEL} elements")
    replay = _function_of(tape, root, [leaf.tensor], share)
    base = leaf.tensor.detach().double()
    (points,) = _points([base])
    again = _replayed_again(replay, [base], root, share)
    share.replay(replay, len(points) - 1)
    with _replaying():
        values = torch.stack([again.sum(), *(replay(point).sum() for point in points[1:])])
    (numeric,) = _differences(values, [base])
    return numeric


@contextlib.contextmanager
def _replaying() -> Iterator[None]:
    """The replay runs the program's own calls on new values (and the sandbox's builtins,
    which may hit a limit): any failure means no numeric value, never a failed request."""
    try:
        yield
    except ReplayError:
        raise
    except Exception as error:
        why = without_addresses(str(error))
        raise ReplayError(f"replaying the program failed: {why}") from error


def _replayed_again(
    replay: Replay, bases: list[torch.Tensor], root: torch.Tensor, share: GradcheckShare
) -> torch.Tensor:
    """The root replayed from the leaves' own values, paid for, which must be the root the
    program computed: else no difference of replays says anything of its gradient."""
    share.replay(replay)
    with _replaying():
        again = replay(*bases)
    if not torch.allclose(again, root.detach().double(), rtol=1e-4, atol=1e-5):
        raise ReplayError(
            "replaying the program does not give the root's value again "
            "(it changed a tensor in place afterwards, or draws random numbers)"
        )
    return again


def _points(bases: list[torch.Tensor]) -> list[torch.Tensor]:
    """Where f is evaluated, one column per leaf (row i: that leaf's value at point i). Row 0
    is every leaf at its own value; then, leaf by leaf, each element moved up by STEP, then
    each moved down, the other leaves staying at their own values."""
    rows = 1 + 2 * sum(base.numel() for base in bases)
    columns, offset = [], 1
    for base in bases:
        size = base.numel()
        shifts = (STEP * torch.eye(size, dtype=torch.float64)).reshape(size, *base.shape)
        column = base.expand(rows, *base.shape).clone()
        column[offset : offset + size] += shifts
        column[offset + size : offset + 2 * size] -= shifts
        columns.append(column)
        offset += 2 * size
    return columns


def _differences(values: torch.Tensor, bases: list[torch.Tensor]) -> list[torch.Tensor]:
    """(f(x + h) - f(x - h)) / 2h per element of each leaf, from f at `_points(bases)`."""
    numerics, offset = [], 1
    for base in bases:
        size = base.numel()
        upper, lower = values[offset : offset + size], values[offset + size : offset + 2 * size]
        numerics.append(((upper - lower) / (2 * STEP)).reshape(base.shape))
        offset += 2 * size
    return numerics


def _function_of(
    tape: Tape, root: torch.Tensor, leaves: list[torch.Tensor], share: GradcheckShare
) -> Replay:
    """The replay of the root from `leaves`, its walk of the tape paid for: a walk stopped
    at the bound spent all that was left."""
    try:
        replay = tape.function_of(root, leaves, max_visits=share.calls)
    except WalkTooLongError:
        share.calls = 0
        raise
    share.spend(replay.visits)
    return replay


def _batched(
    replay: Replay, columns: list[torch.Tensor], share: GradcheckShare
) -> torch.Tensor | None:
    """f at every point by vectorised replays (torch.func.vmap), in chunks that keep the
    batched intermediates under MAX_BATCH_ELEMENTS. None where vmap cannot run the calls.

    A vectorised call is counted as BATCHED_CALL_COST plain ones, which holds while vmap has
    a batching rule for every operation; for one without, vmap runs the points one by one
    inside the call (and warns). So the first chunk is charged as if it ran point by point:
    every point when that charge can be paid (one call, the common case), else a single
    point, which costs no more than a plain replay however vmap runs it. If vmap did not
    warn, all but BATCHED_CALL_COST calls of the charge are given back, and the later chunks
    are charged as batched; else every later point is charged as a plain replay before it
    runs. A single first point keeps a long program's check within the share whenever its
    batched cost is, rather than spending the share on a pessimistic charge."""
    per_point = max(1, sum(tensor.numel() for tensor in replay.order))
    chunk = max(1, MAX_BATCH_ELEMENTS // per_point)
    total = len(columns[0])
    batched = torch.func.vmap(lambda *point: replay(*point).sum())
    values: list[torch.Tensor] = []
    start, point_by_point = 0, True  # until the first chunk shows otherwise
    while start < total:
        points = min(chunk, total - start)
        if start == 0 and points > share.calls // max(1, replay.calls):
            points = 1
        calls = replay.calls * (points if point_by_point else BATCHED_CALL_COST)
        share.spend(calls, replay.elements * points)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")  # recorded here, never shown to the learner
                values.append(batched(*(column[start : start + points] for column in columns)))
        except Exception:
            return None
        if start == 0:
            point_by_point = any("batching rule" in str(w.message) for w in caught)
            if not point_by_point:
                share.refund(calls - replay.calls * BATCHED_CALL_COST)
        start += points
    return torch.cat(values)
