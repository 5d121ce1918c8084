"""Output sizes that depend on argument values, not shapes, estimated before the call.

A meta-tensor dry run knows `torch.ones(n)` makes n elements, but not that
`torch.bincount(t, minlength=10**9)` makes a billion, nor how many bits `math.factorial(n)`
has: those are computed here from the arguments, with the real function's signature.
Each estimator returns `(size, is_bits)`: tensor elements, or bits of an integer result.
"""

import inspect
import math
import operator
from collections.abc import Callable, Iterable
from typing import Any

import torch

Estimate = tuple[int, bool]


def _largest_class(values: torch.Tensor) -> int:
    """One more than the largest value: the length bincount and one_hot make by default."""
    return int(values.max()) + 1 if values.numel() else 0


def bincount(values: torch.Tensor, weights: Any = None, minlength: int = 0) -> Estimate:
    return max(operator.index(minlength), _largest_class(values)), False


def one_hot(values: torch.Tensor, num_classes: int = -1) -> Estimate:
    classes = operator.index(num_classes)
    return values.numel() * (classes if classes >= 0 else _largest_class(values)), False


def _log2(n: int) -> float:
    return math.log2(max(n, 2))


def factorial(n: Any) -> Estimate:
    count = operator.index(n)
    return math.ceil(count * _log2(count)), True


def comb(n: Any, k: Any) -> Estimate:
    total, chosen = operator.index(n), operator.index(k)
    return math.ceil(max(min(chosen, total - chosen), 0) * _log2(total)), True


def perm(n: Any, k: Any = None) -> Estimate:
    total = operator.index(n)
    chosen = total if k is None else operator.index(k)
    return math.ceil(max(chosen, 0) * _log2(total)), True


def prod(values: Iterable[Any], start: Any = 1) -> Estimate:
    """Bits of a product: at most the sum of the factors' bits. The guard has already
    bounded the length of `values` (ranges included) before this runs."""
    numbers = [start, *values]
    return sum(x.bit_length() for x in numbers if isinstance(x, int)), True


def pad_packed_sequence(
    sequence: Any,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> Estimate:
    """Steps (at least total_length) x batch x features: a padded copy of the packed data."""
    data, sizes = sequence[0], sequence[1]
    steps = max(operator.index(total_length or 0), int(sizes.numel()))
    batch = int(sizes[0]) if sizes.numel() else 0
    return steps * batch * int(data[0].numel() if data.dim() else 1), False


def _count(values: torch.Tensor) -> int:
    """The sum of counts, read so that no int64 sum can wrap: a count past what any tensor
    may hold says so alone."""
    if not values.numel() or values.is_floating_point() or values.is_complex():
        return 0  # torch refuses float counts itself
    largest = int(values.max())
    return largest * values.numel() if largest > 2**31 else max(int(values.sum()), 0)


def repeat_interleave(
    input: Any,
    repeats: Any = None,
    dim: Any = None,
    output_size: Any = None,
) -> Estimate:
    """Elements repeat_interleave makes: each element (or slice along `dim`) as many times
    as its count; torch.repeat_interleave(counts) alone makes the indices, count times each."""
    if repeats is None:
        return _count(input), False
    numel = input.numel() if isinstance(input, torch.Tensor) else 1
    if isinstance(repeats, torch.Tensor) and repeats.numel() != 1:
        along = numel if dim is None else _dim_size(input, dim)
        return _count(repeats) * (numel // max(along, 1)), False
    times = int(repeats) if isinstance(repeats, torch.Tensor) else operator.index(repeats)
    return numel * max(times, 0), False


VALUE_SIZED: dict[str, Callable[..., Estimate]] = {
    "torch.repeat_interleave": repeat_interleave,
    "Tensor.repeat_interleave": repeat_interleave,
    "torch.nn.utils.rnn.pad_packed_sequence": pad_packed_sequence,
    "torch.bincount": bincount,
    "Tensor.bincount": bincount,
    "torch.nn.functional.one_hot": one_hot,
    "math.factorial": factorial,
    "math.comb": comb,
    "math.perm": perm,
    "math.prod": prod,
}


def _dim_size(tensor: torch.Tensor, dim: Any) -> int:
    return int(tensor.shape[operator.index(dim)])


def unbind(tensor: torch.Tensor, dim: Any = 0) -> int:
    return _dim_size(tensor, dim)


def split(tensor: torch.Tensor, split_size_or_sections: Any = 1, dim: Any = 0) -> int:
    if isinstance(split_size_or_sections, list | tuple):
        return len(split_size_or_sections)
    size = max(operator.index(split_size_or_sections), 1)
    return -(-_dim_size(tensor, dim) // size)


def chunk(tensor: torch.Tensor, chunks: Any = 1, dim: Any = 0) -> int:
    return operator.index(chunks)


def tolist(tensor: torch.Tensor) -> int:
    return tensor.numel()


# Calls that return one Python object per piece: `torch.ones(4_000_000).unbind()` would make
# four million tensor objects (over a gigabyte) before the result's length is seen.
PIECES: dict[str, Callable[..., int]] = {
    **{
        f"{prefix}.{name}": function
        for prefix in ("torch", "Tensor")
        for name, function in (("unbind", unbind), ("split", split), ("chunk", chunk))
    },
    "Tensor.tolist": tolist,
}


def estimate_pieces(qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """How many Python objects the call returns, for calls that return one per piece."""
    estimator = PIECES.get(qualname)
    if estimator is None:
        return None
    try:
        bound = inspect.signature(estimator).bind(*args, **kwargs)
        return estimator(*bound.args, **bound.kwargs)
    except (TypeError, ValueError, RuntimeError, OverflowError, IndexError):
        return None


def estimate_size(qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Estimate | None:
    """The size a call will make, or None when it is known from shapes or cannot be told
    (wrong arguments: the real call then raises the learner-facing error)."""
    estimator = VALUE_SIZED.get(qualname)
    if estimator is None:
        return None
    try:
        bound = inspect.signature(estimator).bind(*args, **kwargs)
        return estimator(*bound.args, **bound.kwargs)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None
