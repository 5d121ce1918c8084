"""Turning tensors and Python values into JSON a person can read."""

import contextlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

FULL_TENSOR_NUMEL = 100  # tensors up to this size are sent whole; larger ones are summarised
HEAD = 8
# A sparse tensor (a gradient of embedding(sparse=True)) is shown dense up to this size.
DENSE_MAX = 1 << 22


def json_form(value: Any) -> Any:
    """A JSON-ready picture of `value`; tensors keep their shape when summarised.

    Total: a tensor NumPy cannot read (sparse, quantized, nested) is shown through a plain
    copy where one can be made, else named in words; it never raises.
    """
    if isinstance(value, torch.Tensor):
        try:
            return _tensor_json_form(value)
        except Exception:
            return _unusual(value)
    return _other_json_form(value)


def _other_json_form(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, list | tuple | torch.Size):
        return [json_form(item) for item in list(value)[:FULL_TENSOR_NUMEL]]
    try:
        return finite(float(value))  # SymInt, SymFloat, numpy scalars
    except Exception:
        try:
            return str(value)[:200]
        except Exception:
            return f"<{type(value).__name__}>"


ToJsonForm = Callable[[Any], Any]  # json_form, or a JsonFormMemo that remembers


class JsonFormMemo:
    """`json_form`, once per tensor content: a node's output is often what the next node
    saved, and the gradient along an edge what the node it leads to receives.

    Tensors are told apart by their memory, view and version (an in-place change bumps the
    version), and are kept alive so that no other tensor can reuse that memory meanwhile.
    The key is only as good as every write bumping the version, so a memo lives only while no
    program code runs: capture starts one per backward pass and one for the end.
    """

    def __init__(self) -> None:
        self.memo: dict[tuple[Any, ...], tuple[torch.Tensor, Any]] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
            return json_form(value)
        try:
            key = (
                value.data_ptr(),
                value.dtype,
                value.shape,
                value.stride(),
                value._version,
                value.is_conj(),  # a conjugate or negative view shares the memory, not values
                value.is_neg(),
            )
        except Exception:  # no strides or sizes (a nested tensor): not remembered
            return json_form(value)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = (value, json_form(value))
        return found[1]


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity; send them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def _tensor_json_form(tensor: torch.Tensor) -> Any:
    if not tensor.is_cpu:
        return None
    if tensor.layout != torch.strided:
        return _unusual(tensor)
    # NumPy on a view of the same memory: far cheaper per operation on small tensors than
    # torch's dispatcher, and a graph's capture summarises hundreds of them.
    array = _array(tensor)
    if array.ndim == 0:
        return finite(array.item())
    if array.size <= FULL_TENSOR_NUMEL:
        # One vectorised test instead of walking the nested list in Python.
        if array.dtype.kind in "biu" or (array.dtype.kind == "f" and _all_finite(array)):
            return array.tolist()
        return finite(array.tolist())
    flat = array.reshape(-1)
    # NumPy warns of inf - inf and of overflow; evaluation would pass that on to the learner.
    with np.errstate(all="ignore"):
        numeric = np.abs(flat) if array.dtype.kind == "c" else flat
        low, high = float(numeric.min()), float(numeric.max())
        mean = float(np.add.reduce(numeric, dtype=np.float64)) / numeric.size
    return {
        "shape": list(tensor.shape),
        "numel": tensor.numel(),
        "min": finite(low),
        "max": finite(high),
        "mean": finite(mean),
        "head": finite(flat[:HEAD].tolist()),
    }


def _unusual(tensor: torch.Tensor) -> Any:
    """A tensor NumPy cannot view: its dense or dequantized copy when one can be made (the
    values PyTorch holds), else a sentence naming what it is."""
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")  # PyTorch's warnings about these kinds: not the learner's
        plain = None
        if tensor.layout == torch.sparse_coo and tensor.numel() <= DENSE_MAX:
            plain = dense_coo(tensor)
        elif tensor.layout != torch.strided and tensor.numel() <= DENSE_MAX:
            plain = tensor.to_dense()
        elif tensor.is_quantized:
            plain = tensor.dequantize()
        if plain is not None and plain.layout == torch.strided and not plain.is_quantized:
            return _tensor_json_form(plain)
    return describe(tensor)


def dense_coo(tensor: torch.Tensor) -> torch.Tensor:
    """A sparse COO tensor's values in place, summed where an index repeats. Built from its
    indices and values: PyTorch's to_dense() gives zeros when the dense part has a dimension
    of size 1 (an embedding(sparse=True) of width 1)."""
    whole = tensor.detach().coalesce()
    sparse_shape = whole.shape[: whole.sparse_dim()]
    rows = 1
    for size in sparse_shape:
        rows *= size
    flat = torch.zeros(rows, *whole.shape[whole.sparse_dim() :], dtype=whole.dtype)
    if whole._nnz():
        strides = torch.tensor(
            [math.prod(sparse_shape[i + 1 :]) for i in range(len(sparse_shape))],
            dtype=torch.int64,
        )
        positions = (whole.indices() * strides.unsqueeze(1)).sum(0)
        flat.index_add_(0, positions, whole.values())
    return flat.reshape(whole.shape)


def describe(tensor: torch.Tensor) -> str:
    """What a tensor is, in words, from what can be asked of any tensor."""
    form = "nested" if tensor.is_nested else ("quantized" if tensor.is_quantized else "")
    if tensor.layout != torch.strided:
        form = str(tensor.layout).removeprefix("torch.")
    try:
        shape = f", shape {list(tensor.shape)}"
    except Exception:  # nested tensors have no single shape
        shape = ""
    return f"<{form or 'unusual'} tensor{shape}, {dtype_name(tensor.dtype)}: values not shown>"


def shape_of(tensor: torch.Tensor) -> list[int] | None:
    """The shape, or None for tensors without one (nested)."""
    try:
        return list(tensor.shape)
    except Exception:
        return None


def _all_finite(array: "np.ndarray[Any, Any]") -> bool:
    """No arithmetic, so nothing for NumPy to warn of: a sum needs np.errstate, whose
    context variable costs more than the whole test on a small tensor, and a long loop
    makes thousands of them."""
    return bool(np.isfinite(array).all())


def _array(tensor: torch.Tensor) -> "np.ndarray[Any, Any]":
    """The tensor's values as a NumPy array, without copying where NumPy has the dtype."""
    if tensor.requires_grad:
        tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16; float32 holds it exactly
        tensor = tensor.float()
    if tensor.is_conj() or tensor.is_neg():
        tensor = tensor.resolve_conj().resolve_neg()
    return tensor.numpy()


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
