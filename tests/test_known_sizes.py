"""Output sizes the guard computes from arguments alone (elementwise calls, whole reductions,
matrix products, factories, nn.Linear, convolutions) agree with what torch makes, and fall
back to a meta run (None) for anything they do not model: hostile shapes, subclasses, odd
arguments."""

import operator

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from app.contract.errors import ProgramError
from app.contract.settings import Limits
from app.worker.sandbox.guard import (
    CONVOLUTIONS,
    Budget,
    Guard,
    _conv_call_sizes,
    _conv_size,
    _known_numel,
    _linear_size,
)

shapes = st.lists(st.integers(0, 3), max_size=4).map(tuple)


def real_numel(function: object, *args: object, **kwargs: object) -> int | None:
    try:
        result = function(*args, **kwargs)  # type: ignore[operator]
    except (RuntimeError, TypeError, IndexError):
        return None
    return result.numel() if isinstance(result, torch.Tensor) else None


@settings(max_examples=300, deadline=None)
@given(shapes, shapes, st.sampled_from([operator.add, operator.mul, torch.maximum, operator.lt]))
def test_broadcast_sizes_match_torch(a: tuple[int, ...], b: tuple[int, ...], op: object) -> None:
    x, y = torch.zeros(a), torch.zeros(b)
    assert _known_numel(op, (x, y), {}) == real_numel(op, x, y)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple),
    st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple),
)
def test_matrix_product_sizes_match_torch(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    x, y = torch.zeros(a), torch.zeros(b)
    assert _known_numel(operator.matmul, (x, y), {}) == real_numel(operator.matmul, x, y)


def test_shape_keeping_calls_and_whole_reductions() -> None:
    x = torch.randn(3, 4)
    assert _known_numel(F.softmax, (x,), {"dim": -1}) == 12
    assert _known_numel(torch.Tensor.masked_fill, (x, x > 0, 0.0), {}) == 12
    assert _known_numel(torch.Tensor.mean, (x,), {}) == 1
    assert _known_numel(torch.sum, (x,), {"dim": 0}) is None  # a reduction along a dim: meta
    assert _known_numel(torch.max, (x, x), {}) is None  # max of two tensors is not a reduction


@pytest.mark.parametrize(
    "args",
    [
        (torch.randn(2).to_sparse(), 1.0),  # another layout
        (torch.randn(2), [1.0, 2.0]),  # a list torch would convert
        (torch.randn(2), "a"),
        (torch.randn(2), torch.randn(2).to_sparse()),
    ],
)
def test_anything_but_plain_tensors_and_numbers_is_left_to_a_meta_run(
    args: tuple[object, ...],
) -> None:
    assert _known_numel(operator.add, args, {}) is None


def test_tensor_subclasses_are_left_to_a_meta_run() -> None:
    class Odd(torch.Tensor):
        pass

    odd = torch.randn(2).as_subclass(Odd)
    assert _known_numel(operator.add, (odd, 1), {}) is None
    assert _known_numel(torch.relu, (torch.randn(2),), {"inplace": True}) is None


def test_factories_are_sized_from_integer_sizes_only() -> None:
    assert _known_numel(torch.randn, (32, 16), {"requires_grad": True}) == 512
    assert _known_numel(torch.zeros, ((3, 4),), {}) == 12
    assert _known_numel(torch.ones, (3, -1), {}) is None
    assert _known_numel(torch.ones, (3, True), {}) is None
    assert _known_numel(torch.ones, (torch.tensor(3),), {}) is None
    assert _known_numel(torch.ones, (3,), {"out": torch.zeros(3)}) is None


def test_a_huge_factory_is_refused_before_any_memory() -> None:
    guard = Guard(Budget(Limits()))
    with pytest.raises(ProgramError):
        guard.dry_run("torch.zeros", torch.zeros, (10**6, 10**6), {})
    with pytest.raises(ProgramError):
        guard.dry_run("'*'", operator.mul, (torch.zeros(1, 4000), torch.zeros(4000, 1)), {})


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((3, 4), {}), ((3, 4, False), {}), ((3, 4), {"bias": False}), ((0, 5), {})],
)
def test_linear_size_matches_its_parameters(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    layer = nn.Linear(*args, **kwargs)  # type: ignore[arg-type]
    assert _linear_size(nn.Linear, args, kwargs) == sum(p.numel() for p in layer.parameters())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((3,), {}), ((3, -1), {}), ((3, 4.0), {}), ((3, 4, 1), {}), ((3, 4), {"device": "meta"})],
)
def test_odd_linear_arguments_are_left_to_the_probe(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    assert _linear_size(nn.Linear, args, kwargs) is None
    assert _linear_size(nn.Bilinear, (3, 4), {}) is None


kernels = st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=1, max_size=4))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([nn.Conv1d, nn.Conv2d, nn.Conv3d]),
    st.integers(0, 6),
    st.integers(0, 6),
    kernels,
    st.integers(0, 3),
    st.booleans(),
    st.booleans(),
)
def test_convolution_sizes_match_their_parameters(
    cls: type[nn.Module],
    inputs: int,
    outputs: int,
    kernel: int | list[int],
    groups: int,
    bias: bool,
    as_keywords: bool,
) -> None:
    """The size from the arguments is the parameters' own wherever torch makes the layer,
    and is left to the probe (None) wherever torch refuses it."""
    options: dict[str, object] = {"groups": groups, "bias": bias, "padding": 1}
    if as_keywords:
        args: tuple[object, ...] = ()
        kwargs = {"in_channels": inputs, "out_channels": outputs, "kernel_size": kernel, **options}
    else:
        args, kwargs = (inputs, outputs, kernel), options
    try:
        with torch.device("meta"):
            layer = cls(*args, **kwargs)
    except (RuntimeError, TypeError, ValueError, ZeroDivisionError):
        assert _conv_size(cls, args, kwargs) is None
        return
    made = sum(p.numel() for p in layer.parameters())
    sized = _conv_size(cls, args, kwargs)
    assert sized in (made, None)
    dimensions = CONVOLUTIONS[cls]
    sizes = [kernel] * dimensions if isinstance(kernel, int) else kernel
    if len(sizes) == dimensions and 0 not in sizes:  # else left to the probe
        assert sized == made


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (nn.Conv2d, (3, 4, 3), {"device": "meta"}),
        (nn.Conv2d, (3, 4, 3, 1, 0, 1, 1), {}),
        (nn.Conv2d, (3, 4, 3.0), {}),
        (nn.Conv2d, (torch.tensor(3), 4, 3), {}),
        (nn.ConvTranspose2d, (3, 4, 3), {}),
        (nn.Conv2d, (3, 4, (3, 3, 3)), {}),
    ],
)
def test_odd_convolution_arguments_are_left_to_the_probe(
    cls: type[nn.Module], args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    assert _conv_size(cls, args, kwargs) is None


def test_containers_charge_nothing_more() -> None:
    """nn.Sequential(...) holds layers made (and charged) already: a program of many
    Sequentials of one big layer is not charged for the layer again and again."""
    guard = Guard(Budget(Limits(max_total_numel=1_000)))
    layer = nn.Linear(10, 10)
    guard._check_module_size("Sequential", nn.Sequential, (layer,) * 50, {})
    guard._check_module_size("ModuleList", nn.ModuleList, ([layer] * 50,), {})
    assert guard.budget.elements == 0


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([nn.Conv1d, nn.Conv2d, nn.Conv3d]),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(1, 2),
    st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    st.sampled_from([None, 1, 2]),
    st.lists(st.integers(1, 6), min_size=3, max_size=3),
    st.booleans(),
)
def test_a_convolution_call_is_sized_as_torch_makes_it(
    cls: type[nn.Module],
    inputs: int,
    outputs: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    mode: str,
    batch: int | None,
    lengths: list[int],
    channels_match: bool,
) -> None:
    """Wherever the size comes from the shapes, it is the output torch makes; with zero
    padding, every call torch refuses is left to the dry run (None)."""
    layer = cls(inputs, outputs, kernel, stride, padding, dilation, padding_mode=mode)
    dimensions = CONVOLUTIONS[cls]
    channels = inputs if channels_match else inputs + 1
    shape = ([] if batch is None else [batch]) + [channels, *lengths[:dimensions]]
    x = torch.zeros(shape)
    sized = _conv_call_sizes(layer, (x,), {})
    try:
        made: int | None = layer(x).numel()
    except RuntimeError:
        made = None
    if sized is not None and made is not None:
        assert sized == (made, made)
    if mode == "zeros":  # other modes pad first, which can fail where the sizes do not
        assert sized == (None if made is None else (made, made))


def test_a_convolution_call_left_to_its_dry_run() -> None:
    layer = nn.Conv2d(2, 3, 3, padding="same")
    assert _conv_call_sizes(layer, (torch.zeros(1, 2, 5, 5),), {}) is None
    plain = nn.Conv2d(2, 3, 3)
    assert _conv_call_sizes(plain, (torch.zeros(1, 2, 5, 5),), {"x": 1}) is None
    assert _conv_call_sizes(plain, (torch.zeros(1, 2, 5, 5), 1), {}) is None
    assert _conv_call_sizes(nn.ConvTranspose2d(2, 3, 3), (torch.zeros(1, 2, 5, 5),), {}) is None


def test_a_convolution_call_too_much_work_is_refused_before_it_runs() -> None:
    """As its dry run does: the multiply-adds of the call, from the shapes alone."""
    guard = Guard(Budget(Limits()))
    layer = nn.Conv2d(64, 64, 7)
    huge = torch.empty(1, 64, 2_000, 2_000, device="meta")
    with pytest.raises(ProgramError, match="multiply-adds"):
        guard._check_module_call(layer, (huge,), {})
