"""Plain PyTorch on the same program: the numbers the product must show.

Test programs are our own, trusted text, so here (and only here) they run with `exec`.
"""

import contextlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from app.worker.evaluate import DEFAULT_SEED


@dataclass
class Reference:
    names: dict[str, Any]
    stdout: str
    root: torch.Tensor | None
    grads: dict[str, torch.Tensor | None]  # what .grad holds at the end, as PyTorch gives it
    graph_grads: dict[str, torch.Tensor]  # d(root)/d(named non-leaf tensor), as its pass ran
    passes: list[dict[str, tuple[torch.Tensor | None, torch.Tensor]]]  # (.grad, value) per leaf


def run_reference(code: str, output: str | None = None) -> Reference:
    """Run `code` with real torch, then backpropagate the same root the product picks."""
    torch.manual_seed(DEFAULT_SEED)
    roots: list[torch.Tensor] = []
    passes: list[dict[str, tuple[torch.Tensor | None, torch.Tensor]]] = []
    original: Callable[..., None] = torch.Tensor.backward

    def recording_backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        roots.append(self)
        # Asked now, not after the program: it may change saved tensors through .data later.
        graph_grads[id(self)] = _graph_grads(names, self)
        kwargs["retain_graph"] = True  # so d(root)/d(intermediate) can be asked afterwards
        original(self, *args, **kwargs)
        passes.append(_leaf_state(names))

    names: dict[str, Any] = {"__name__": "__main__"}  # classes print as __main__.Name
    graph_grads: dict[int, dict[str, torch.Tensor]] = {}
    stdout = io.StringIO()
    torch.Tensor.backward = recording_backward  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(stdout):
            exec(compile(code, "<reference>", "exec"), names)
    finally:
        torch.Tensor.backward = original  # type: ignore[method-assign]
    root = names[output] if output else (roots[-1] if roots else None)
    if root is not None and id(root) not in graph_grads:
        graph_grads[id(root)] = _graph_grads(names, root)
    if root is None:
        tensors = [v for v in names.values() if isinstance(v, torch.Tensor) and v.grad_fn]
        root = tensors[-1] if tensors else None
        if root is not None:
            graph_grads[id(root)] = _graph_grads(names, root)
            original(root, torch.ones_like(root), retain_graph=True)
            passes.append(_leaf_state(names))
    grads = {name: _grad(value) for name, value in names.items() if isinstance(value, torch.Tensor)}
    root_grads = graph_grads[id(root)] if root is not None else {}
    return Reference(names, stdout.getvalue(), root, grads, root_grads, passes)


def _leaf_state(names: dict[str, Any]) -> dict[str, tuple[torch.Tensor | None, torch.Tensor]]:
    """.grad and value of every named leaf that requires grad, module parameters by path."""
    tensors = {k: v for k, v in names.items() if isinstance(v, torch.Tensor)}
    for name, value in names.items():
        if isinstance(value, torch.nn.Module):
            tensors.update({f"{name}.{path}": p for path, p in value.named_parameters()})
        elif type(value).__module__ == "__main__" and not isinstance(value, type):
            # An object of the program's own plain class: its tensors by attribute (layer.w).
            attributes = vars(value).items()
            tensors.update({f"{name}.{a}": t for a, t in attributes if isinstance(t, torch.Tensor)})
    return {
        name: (_grad(tensor), tensor.detach().clone())
        for name, tensor in tensors.items()
        if tensor.is_leaf and (tensor.requires_grad or tensor.grad is not None)
    }


def _grad(tensor: torch.Tensor) -> torch.Tensor | None:
    if not (tensor.is_leaf or tensor.retains_grad) or tensor.grad is None:
        return None
    return tensor.grad.clone()


def _graph_grads(names: dict[str, Any], root: torch.Tensor | None) -> dict[str, torch.Tensor]:
    if root is None:
        return {}
    inner = {
        name: value
        for name, value in names.items()
        if isinstance(value, torch.Tensor) and value.grad_fn is not None
    }
    if not inner:
        return {}
    seed = torch.ones_like(root)
    # autograd.grad also adds into the .grad of tensors that retain it: leave those as they were.
    retained = {name: value.grad for name, value in inner.items() if value.retains_grad}
    grads = torch.autograd.grad(
        root, list(inner.values()), seed, retain_graph=True, allow_unused=True
    )
    for name, grad in retained.items():
        inner[name].grad = grad
    return {name: g for name, g in zip(inner, grads, strict=True) if g is not None}


def as_tensor(value: Any) -> torch.Tensor:
    """The product's JSON for a tensor, back as a float64 tensor (summaries are refused)."""
    assert not isinstance(value, dict), "tensor was summarised; test with smaller tensors"

    def restore(item: Any) -> Any:
        if isinstance(item, list):
            return [restore(i) for i in item]
        if isinstance(item, str):
            return float(item)
        return item

    return torch.tensor(restore(value), dtype=torch.float64)


def assert_close(actual_json: Any, expected: torch.Tensor | None, what: str) -> None:
    if expected is None:
        assert actual_json is None, f"{what}: expected None, got {actual_json!r}"
        return
    assert actual_json is not None, f"{what}: expected {expected}, got None"
    actual = as_tensor(actual_json)
    wanted = expected.detach().to(torch.float64)
    assert list(actual.shape) == list(wanted.shape), (
        f"{what}: shape {actual.shape} vs {wanted.shape}"
    )
    assert torch.allclose(actual, wanted, rtol=1e-5, atol=1e-6, equal_nan=True), (
        f"{what}: {actual} vs {wanted}"
    )


def isclose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
