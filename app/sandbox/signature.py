"""What a dry run's result size depends on: the shapes and dtypes of tensors, not their values.

A loop calls the same operation on same-shaped tensors at every step; keying the dry run by
this signature lets the guard size a repeated call without running torch's meta kernels again
(they were most of the interpreter's time on a 1,000-step RNN).
"""

from collections.abc import Hashable
from typing import Any

import torch

HASHABLE_SCALARS = (bool, int, float, complex, str, type(None), type(Ellipsis), torch.dtype)


class UnsizedError(Exception):
    """The arguments hold something whose effect on the result size we do not model."""


def signature(value: Any) -> Hashable:
    """A hashable stand-in for `value` that is equal whenever the dry run's size must be."""
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype)
    if isinstance(value, HASHABLE_SCALARS):
        return (type(value), value)  # the type keeps 1, 1.0 and True apart
    if isinstance(value, slice):
        return ("slice", signature(value.start), signature(value.stop), signature(value.step))
    if isinstance(value, torch.Size):
        return ("size", tuple(value))
    if isinstance(value, list | tuple):
        return (type(value), tuple(signature(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((signature(k), signature(v)) for k, v in value.items()))
    raise UnsizedError(type(value).__name__)
