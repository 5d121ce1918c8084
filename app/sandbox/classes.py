"""Classes a program defines: `class Net(nn.Module)` and plain containers.

A program never holds a real type object. Its class is a `UserClass` (a table of methods
and class attributes the interpreter reads); an instance of a plain class is a
`UserObject` (a dict of attributes). An instance of a module class is a real `nn.Module`,
so that torch's own code (parameters(), state_dict(), print, train/eval, `.double()`, a
Sequential holding it) works on it: its Python type is made here, a subclass of
`UserModule` named after the program's class, whose only method torch calls, `forward`,
hands the call back to the interpreter that made the instance. The interpreter runs the
program's `forward` under the same step budget and call depth as any call, and refuses to
run it once the program has ended (the gradient check replays recorded calls later).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from app.sandbox.errors import ProgramError

# Runs `forward` of a program's module: (module, args, kwargs) -> result.
ForwardRunner = Callable[[nn.Module, tuple[Any, ...], dict[str, Any]], Any]

# Attributes a program may not set on its module: nn.Module's own, which torch reads.
RESERVED_MODULE_NAMES = frozenset(name for name in dir(nn.Module) if not name.startswith("_")) | {
    "training"
}


@dataclass(frozen=True)
class BaseClass:
    """A class the program may inherit from, as its table names it (`nn.Module`)."""

    qualname: str
    kind: str  # "module" or "function"

    def __repr__(self) -> str:
        return f"<class '{self.qualname}'>"


@dataclass(eq=False)
class UserClass:
    """A class the program defined: its name, base and attributes (methods included)."""

    name: str
    kind: str  # "module", "function" or "plain"
    parent: "UserClass | None"
    attributes: dict[str, Any] = field(default_factory=dict)
    module_type: type[nn.Module] | None = None  # for kind "module": the instances' type
    function_type: "type[ProgramFunction] | None" = None  # for kind "function": what apply calls

    def __repr__(self) -> str:
        return f"<class '__main__.{self.name}'>"

    def find(self, name: str) -> tuple[bool, Any]:
        """A class attribute or method, looked up through the program's own base classes."""
        cls: UserClass | None = self
        while cls is not None:
            if name in cls.attributes:
                return True, cls.attributes[name]
            cls = cls.parent
        return False, None

    def is_subclass_of(self, other: "UserClass") -> bool:
        cls: UserClass | None = self
        while cls is not None:
            if cls is other:
                return True
            cls = cls.parent
        return False


@dataclass(eq=False)
class UserObject:
    """An instance of a plain class of the program."""

    cls: UserClass
    attributes: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<__main__.{self.cls.name} object>"


class UserModule(nn.Module):
    """Base of the Python types made for the program's module classes (see `module_type`)."""

    _agx_class: UserClass
    _agx_forward: ForwardRunner
    _agx_names: set[str]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        runner = self.__dict__.get("_agx_forward")
        if runner is None:
            raise ProgramError("TypeError", "this module was not made by the running program")
        return runner(self, args, kwargs)


def module_type(name: str, parent: type[nn.Module]) -> type[nn.Module]:
    """The Python type of a program's module class, named as the program names it, so that
    print(model) reads `Net(...)` as in PyTorch. It defines nothing of the program's."""
    return type(name, (parent,), {"__module__": "__main__", "__qualname__": name})


def new_module(cls: UserClass, forward: ForwardRunner) -> UserModule:
    """An instance not yet initialised: the program's `__init__` calls super().__init__()."""
    assert cls.module_type is not None
    instance = cls.module_type.__new__(cls.module_type)
    assert isinstance(instance, UserModule)
    object.__setattr__(instance, "_agx_class", cls)
    object.__setattr__(instance, "_agx_forward", forward)
    object.__setattr__(instance, "_agx_names", set())
    return instance


@dataclass(eq=False)
class BoundUserMethod:
    """`instance.method` for a method of the program's class."""

    function: Any  # UserFunction
    receiver: Any

    def __repr__(self) -> str:
        return f"<bound method {self.function.node.name}>"


@dataclass(eq=False)
class SuperProxy:
    """`super()` inside a method: only `__init__` of the base can be reached through it."""

    cls: UserClass
    receiver: Any

    def __repr__(self) -> str:
        return f"<super: {self.cls.name}>"


class SuperBuiltin:
    """The name `super`; calling it inside a method gives a `SuperProxy`."""

    def __repr__(self) -> str:
        return "<class 'super'>"


SUPER = SuperBuiltin()


# Custom autograd functions ----------------------------------------------------------------
# `class Exp(torch.autograd.Function)` is a table like any class. `Exp.apply(x)` calls the
# real Function type made for it here, whose forward and backward are ours: they hand the
# call to a `FunctionRunner` (the interpreter), which runs the program's staticmethods with a
# `ProgramContext` in place of torch's ctx and checks what backward returns.


class FunctionRunner:
    """What the interpreter provides to run a program's Function (see Interpreter)."""

    def forward(self, cls: UserClass, ctx: "ProgramContext", args: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def backward(
        self, cls: UserClass, ctx: "ProgramContext", grads: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        raise NotImplementedError


class ProgramFunction(torch.autograd.Function):
    """Base of the Function types made for the program's classes (see `function_type`).

    apply(runner, cls, *args): the runner and the class travel as the first arguments, so
    that nothing of the program is stored on the type; backward gives them no gradient.
    """

    @staticmethod
    def forward(ctx: Any, runner: FunctionRunner, cls: UserClass, *args: Any) -> Any:
        program_ctx = ProgramContext(ctx, args)
        ctx.agx_program = (runner, cls, program_ctx)
        try:
            return runner.forward(cls, program_ctx, args)
        finally:
            program_ctx.phase = "saved"

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        runner, cls, program_ctx = ctx.agx_program
        program_ctx.phase = "backward"
        try:
            return (None, None, *runner.backward(cls, program_ctx, grads))
        finally:
            program_ctx.phase = "saved"


def function_type(name: str) -> type[ProgramFunction]:
    """A Function type named as the program names its class: its node is `<name>Backward`."""
    return type(name, (ProgramFunction,), {"__module__": "__main__", "__qualname__": name})


# What a program may do with ctx, besides setting and reading its own attributes.
CONTEXT_METHODS = frozenset({"save_for_backward"})
CONTEXT_ATTRIBUTES = frozenset({"saved_tensors", "needs_input_grad"})


class ProgramContext:
    """`ctx` as the program sees it: torch's ctx is never handed out.

    save_for_backward works during forward, saved_tensors during backward; other attributes
    are the program's own (ctx.scale = 2), kept in a dict here.
    """

    def __init__(self, ctx: Any, inputs: tuple[Any, ...]) -> None:
        self._ctx = ctx
        # What each input was, to check what backward returns: (shape, dtype) of a tensor.
        self.inputs = [
            (tuple(value.shape), value.dtype) if isinstance(value, torch.Tensor) else None
            for value in inputs
        ]
        self.phase = "forward"
        self.attributes: dict[str, Any] = {}

    def __repr__(self) -> str:
        return "<ctx>"

    def save_for_backward(self, *tensors: Any) -> None:
        if self.phase != "forward":
            raise ProgramError("RuntimeError", "ctx.save_for_backward works inside forward only")
        if not all(isinstance(t, torch.Tensor) or t is None for t in tensors):
            raise ProgramError("TypeError", "save_for_backward can only save tensors (or None)")
        self._ctx.save_for_backward(*tensors)

    def read(self, name: str) -> Any:
        if name == "saved_tensors":
            if self.phase != "backward":
                raise ProgramError("RuntimeError", "ctx.saved_tensors can be read in backward only")
            return tuple(self._ctx.saved_tensors)
        if name == "needs_input_grad":
            return tuple(self._ctx.needs_input_grad[2:])
        if name in self.attributes:
            return self.attributes[name]
        raise ProgramError("AttributeError", f"ctx has no attribute '{name}'")


@dataclass(frozen=True)
class TypeProxy:
    """What type(x) gives for a value whose class the program cannot hold (`torch.Tensor`):
    printable and comparable, never the real type. `construct` is what calling it does, where
    the name is also a constructor (`torch.Tensor([1.0])`)."""

    qualname: str
    construct: Any = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"<class '{self.qualname}'>"


@dataclass(eq=False)
class HookHandle:
    """What x.register_hook(fn) gives: `remove()` only, never torch's handle."""

    handle: Any

    def __repr__(self) -> str:
        return "<hook handle>"
