"""Turning tensors and Python values into JSON a person can read."""

import math
from typing import Any

import torch

FULL_TENSOR_NUMEL = 100  # tensors up to this size are sent whole; larger ones are summarised
HEAD = 8


def summarize(value: Any) -> Any:
    """A JSON-ready picture of `value`; tensors keep their shape when summarised."""
    if isinstance(value, torch.Tensor):
        return _summarize_tensor(value.detach())
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, list | tuple | torch.Size):
        return [summarize(item) for item in list(value)[:FULL_TENSOR_NUMEL]]
    try:
        return finite(float(value))  # SymInt, SymFloat, numpy scalars
    except (TypeError, ValueError):
        return str(value)[:200]


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity; send them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def _summarize_tensor(tensor: torch.Tensor) -> Any:
    if tensor.device.type != "cpu":
        return None
    if tensor.numel() <= FULL_TENSOR_NUMEL:
        # Checking finiteness in torch spares walking the nested list in Python, which was
        # the larger part of capturing a graph of many small tensors.
        if not tensor.is_complex() and (
            not tensor.is_floating_point() or bool(torch.isfinite(tensor).all())
        ):
            return tensor.tolist()
        return finite(tensor.tolist())
    flat = tensor.reshape(-1)
    numeric = flat.to(torch.float64) if not tensor.is_complex() else flat.abs().to(torch.float64)
    return {
        "shape": list(tensor.shape),
        "numel": tensor.numel(),
        "min": finite(numeric.min().item()),
        "max": finite(numeric.max().item()),
        "mean": finite(numeric.mean().item()),
        "head": finite(flat[:HEAD].tolist()),
    }


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
