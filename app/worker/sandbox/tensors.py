"""What a tensor is (shape, dtype, strides, memory) may only change in ways kernels expect.

PyTorch's native CPU kernels trust tensor metadata: a fused optimizer loops over
`param.numel()` without checking the gradient's size or strides, the LSTM trusts its own
sizes rather than its weights', and backward kernels trust sizes and indices that forward
checked. So a program may never:

- change what an existing tensor is: `.data = v` and `.grad = v` take only values of exactly
  the target's shape, dtype and device, stored dense; in-place methods that change a shape
  (`unsqueeze_`, `t_`, `resize_`, `set_`...) are not on the allowlist;
- write a tensor behind autograd's back: `.data` is `.detach()` (it shares the version
  counter, so changing a tensor saved for backward makes backward refuse, as in PyTorch
  for any other in-place change), and `.data = v` and `m.double()` count as writes;
- make a leaf, a parameter, a gradient or optimizer state from memory whose elements are not
  each their own in one block (an `expand` view with stride 0, an overlapping `unfold`, a
  stepped slice), which a kernel would read as dense;
- run fused or foreach optimizer kernels: every step is the single-tensor path, whose
  element-wise operations check shapes, and parameters, gradients and state are checked
  before each step.
"""

import inspect
from typing import Any

import torch

from app.contract.errors import ProgramError, refused

# Keyword arguments of torch.optim constructors that pick kernels trusting tensor metadata,
# or that make a step part of the graph; an optimizer here always runs with them off.
OPTIMIZER_SWITCHES = ("fused", "foreach", "capturable", "differentiable")

# In-place methods that change a tensor's shape, strides or storage rather than its values.
SHAPE_CHANGING_METHODS: dict[str, str] = {
    name: (
        "it changes the shape of a tensor that gradients, optimizers and modules rely on; "
        f"make a new tensor instead (x = x.{name.rstrip('_')}(...))"
    )
    for name in ("squeeze_", "unsqueeze_", "t_", "transpose_", "swapaxes_", "swapdims_")
}
SHAPE_CHANGING_METHODS.update(
    {
        name: "it changes the size or memory of a tensor other objects rely on; make a new tensor"
        for name in ("resize_", "resize_as_", "set_", "as_strided_", "share_memory_")
    }
)


def is_dense(tensor: torch.Tensor) -> bool:
    """Every element has its own place in memory and the places are contiguous, in some
    order of dimensions (a transpose is dense; an `expand` or a stepped slice is not)."""
    if tensor.layout != torch.strided:
        return False
    if tensor.numel() <= 1:
        return True
    dims = sorted(
        (stride, size)
        for size, stride in zip(tensor.shape, tensor.stride(), strict=True)
        if size != 1
    )
    expected = 1
    for stride, size in dims:
        if stride != expected:
            return False
        expected *= size
    return True


def check_dense(tensor: torch.Tensor, what: str) -> None:
    if not is_dense(tensor):
        raise refused(
            f"{what} must be a tensor whose elements each have their own memory; this one is "
            "a view (made by expand, a stepped slice...) that kernels would read past. "
            "Use .clone() first"
        )


def _same_kind(owner: torch.Tensor, value: Any, what: str, instead: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ProgramError("TypeError", f"{what} must be a tensor, not a {type(value).__name__}")
    differences = [
        f"{name} {got} instead of {want}"
        for name, got, want in (
            ("shape", tuple(value.shape), tuple(owner.shape)),
            ("dtype", value.dtype, owner.dtype),
            ("device", value.device, owner.device),
            ("layout", value.layout, owner.layout),
        )
        if got != want
    ]
    if differences:
        raise refused(
            f"{what} needs a tensor like the one it replaces, but it has "
            + ", ".join(differences)
            + f"; {instead}"
        )
    return value


def read_data(owner: torch.Tensor) -> torch.Tensor:
    """`x.data`: the same memory without autograd history, as `.detach()`. Unlike PyTorch's
    `.data` it shares the version counter, so writes through it are seen by autograd."""
    return owner.detach()


def assign_data(owner: torch.Tensor, value: Any) -> None:
    """`x.data = v`: `x` now holds a dense copy of `v`'s values, counted as a write."""
    value = _same_kind(
        owner, value, "'.data ='", "change values in place instead (x.data.copy_(v), x.data += ...)"
    )
    if _same_memory(owner, value):
        return  # `x.data += 1` assigns back what it wrote in place
    owner.data = value.detach().clone(memory_format=torch.contiguous_format)
    torch.autograd.graph.increment_version(owner)


def assign_grad(owner: torch.Tensor, value: Any) -> None:
    """`x.grad = v`: `None`, or a tensor like `x` (dense: a view is copied)."""
    if value is not None:
        value = _same_kind(
            owner, value, "'.grad ='", "a gradient has its tensor's shape (or set it to None)"
        )
        if not is_dense(value):
            value = value.detach().clone(memory_format=torch.contiguous_format)
    owner.grad = value


def _same_memory(owner: torch.Tensor, value: torch.Tensor) -> bool:
    return (
        value.data_ptr() == owner.data_ptr()
        and value.stride() == owner.stride()
        and value.shape == owner.shape
        and value.dtype == owner.dtype
    )


# Module methods that replace every parameter's and buffer's data (`param.data = ...`).
MODULE_CONVERSIONS = frozenset({"float", "double", "half"})


def converted(module: torch.nn.Module) -> None:
    """After `m.double()`: each parameter and buffer counts as written, so a graph that saved
    the old ones refuses backward instead of handing kernels weights of another dtype."""
    for tensor in (*module.parameters(), *module.buffers()):
        torch.autograd.graph.increment_version(tensor)


def optimizer_arguments(
    qualname: str, target: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Constructor arguments with fused, foreach, capturable and differentiable off
    (given by keyword or by position)."""
    try:
        bound = inspect.signature(target).bind(*args, **kwargs)
    except TypeError as error:
        raise ProgramError("TypeError", f"{qualname}(): {error}") from None
    for switch in OPTIMIZER_SWITCHES:
        if bound.arguments.get(switch):
            raise refused(
                f"{qualname}: '{switch}=True' is not available here; the plain (single-tensor) "
                "optimizer gives the same numbers"
            )
    # Checked before the constructor runs too: Adagrad builds state from each parameter.
    for item in _listed(bound.arguments.get("params")):
        group = item.get("params") if isinstance(item, dict) else [item]
        for param in _listed(group):
            if isinstance(param, torch.Tensor):
                check_dense(param, f"{qualname}: a parameter")
    bound.arguments["foreach"] = False
    return bound.args, bound.kwargs


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def check_optimizer(optimizer: torch.optim.Optimizer) -> None:
    """Before every step and zero_grad: switches off, parameters, gradients and state like
    their parameter (param_groups and defaults are the program's to edit, so they are checked
    each time)."""
    name = type(optimizer).__name__
    for switch in OPTIMIZER_SWITCHES:
        if optimizer.defaults.get(switch):
            raise refused(f"{name}: defaults['{switch}'] must stay False here")
    for number, group in enumerate(optimizer.param_groups):
        for switch in OPTIMIZER_SWITCHES:
            if group.get(switch):
                raise refused(
                    f"{name}.step: param_groups[{number}]['{switch}'] must stay False here"
                )
        params = group.get("params")
        if not isinstance(params, list) or not all(isinstance(p, torch.Tensor) for p in params):
            raise refused(
                f"{name}.step: param_groups[{number}]['params'] must be a list of tensors"
            )
        for param in params:
            check_dense(param, f"{name}: a parameter")
            _check_like(param, param.grad, f"{name}.step: a parameter's .grad")
            for value in optimizer.state.get(param, {}).values():
                if isinstance(value, torch.Tensor) and value.dim() > 0:
                    _check_like(param, value, f"{name}.step: the optimizer's state")


def _check_like(param: torch.Tensor, value: torch.Tensor | None, what: str) -> None:
    if value is None:
        return
    if value.shape != param.shape or value.device != param.device:
        raise refused(f"{what} has shape {tuple(value.shape)}, not {tuple(param.shape)}")
    # A sparse gradient comes only from autograd (nn.Embedding(sparse=True)): `.grad =` takes
    # only the parameter's own layout, and the optimizers' sparse paths check its indices.
    if value.layout != torch.sparse_coo:
        check_dense(value, what)


def _gradients(qualname: str, parameters: Any) -> list[torch.Tensor]:
    """The parameters of a clip_grad call as a list, each dense with a gradient like it."""
    listed = [parameters] if isinstance(parameters, torch.Tensor) else _listed(parameters)
    for param in listed:
        if not isinstance(param, torch.Tensor):
            raise ProgramError("TypeError", f"{qualname}: parameters must be tensors")
        check_dense(param, f"{qualname}: a parameter")
        _check_like(param, param.grad, f"{qualname}: a parameter's .grad")
    return listed


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_ on the single-tensor path, gradients checked first."""
    if foreach:
        raise refused("clip_grad_norm_: 'foreach=True' is not available here")
    listed = _gradients("clip_grad_norm_", parameters)
    return torch.nn.utils.clip_grad_norm_(
        listed, max_norm, norm_type, error_if_nonfinite, foreach=False
    )


def clip_grad_value_(parameters: Any, clip_value: float, foreach: bool | None = None) -> None:
    """torch.nn.utils.clip_grad_value_ on the single-tensor path, gradients checked first."""
    if foreach:
        raise refused("clip_grad_value_: 'foreach=True' is not available here")
    torch.nn.utils.clip_grad_value_(
        _gradients("clip_grad_value_", parameters), clip_value, foreach=False
    )
