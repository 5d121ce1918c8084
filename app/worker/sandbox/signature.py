"""What a dry run's result size depends on: the shapes and dtypes of tensors, not their values.

A loop calls the same operation on same-shaped tensors at every step, and a class sends the
same lessons again and again; keying the dry run by this signature lets the guard size a
repeated call without running torch's meta kernels again (the costliest part of
interpreting an operation). Signatures are kept small: arguments with
many items or long strings get none, and are dry-run every time.
"""

from collections.abc import Hashable
from typing import Any

from app.worker.sandbox.kinds import DryRunKey, kind_of

MAX_ITEMS = 64  # values in one signature
MAX_TEXT = 64  # characters of one string in it


class UnsizedError(Exception):
    """The arguments hold something whose effect on the result size we do not model."""


def signature(value: Any) -> Hashable:
    """A hashable stand-in for `value` that is equal whenever the dry run's size must be."""
    return _signature(value, [0])


def _signature(value: Any, count: list[int]) -> Hashable:
    count[0] += 1
    if count[0] > MAX_ITEMS or (isinstance(value, str) and len(value) > MAX_TEXT):
        raise UnsizedError("too large to remember")
    match kind_of(value).dry_run_key:
        case DryRunKey.TENSOR:
            return ("tensor", tuple(value.shape), value.dtype)
        case DryRunKey.VALUE:
            return (type(value), value)  # the type keeps 1, 1.0 and True apart
        case DryRunKey.SLICE:
            parts = (value.start, value.stop, value.step)
            return ("slice", *(_signature(part, count) for part in parts))
        case DryRunKey.GENERATOR:
            return "generator"
        case DryRunKey.SIZE:
            return ("size", tuple(value))
        case DryRunKey.SEQUENCE:
            return (type(value), tuple(_signature(item, count) for item in value))
        case DryRunKey.MAPPING:
            items = value.items()
            return ("dict", tuple((_signature(k, count), _signature(v, count)) for k, v in items))
    raise UnsizedError(type(value).__name__)


class SizeMemo:
    """Result sizes of dry runs by signature, shared by every job of a worker; bounded."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.sizes: dict[Hashable, int] = {}

    def get(self, key: Hashable) -> int | None:
        return self.sizes.get(key)

    def put(self, key: Hashable, numel: int) -> None:
        if len(self.sizes) < self.max_entries:
            self.sizes[key] = numel
