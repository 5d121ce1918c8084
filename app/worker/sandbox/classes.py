"""Classes a program defines: `class Net(nn.Module)` and plain containers.

A program never holds a real type object. Its class is a `UserClass` (a table of methods
and class attributes the interpreter reads); an instance of a plain class is a
`UserObject` (a dict of attributes), of a subtype named after the class that defines nothing
of the program's: Python's calls to its special methods are handed to the interpreter. An
instance of a module class is a real `nn.Module`,
so that torch's own code (parameters(), state_dict(), print, train/eval, `.double()`, a
Sequential holding it) works on it: its Python type is made here, a subclass of
`UserModule` named after the program's class, whose only method torch calls, `forward`,
hands the call back to the interpreter that made the instance. The interpreter runs the
program's `forward` under the same step budget and call depth as any call, and refuses to
run it once the program has ended (the gradient check replays recorded calls later).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from app.contract.errors import ProgramError
from app.worker.sandbox.exceptions import ExceptionClass, exception_message

# Runs `forward` of a program's module: (module, args, kwargs) -> result.
ForwardRunner = Callable[[nn.Module, tuple[Any, ...], dict[str, Any]], Any]

# Attributes a program may not set on its module: nn.Module's own, which torch reads
# (`_parameters`, `_forward_hooks`... included: a program may name its own `_cache`).
RESERVED_MODULE_NAMES = frozenset(dir(nn.Module)) | frozenset(vars(nn.Module())) | {"training"}
# Prefix of the attributes the sandbox keeps on a program's module (see UserModule).
SANDBOX_PREFIX = "_agx"


class SpecialRunner(Protocol):
    """The interpreter, as a program's special methods (__add__, __repr__...) reach it when
    Python itself calls them (print, sorted, a set)."""

    def active(self) -> bool: ...

    def run_special(self, function: Any, receiver: Any, args: tuple[Any, ...]) -> Any: ...


@dataclass(frozen=True)
class BaseClass:
    """A class the program may inherit from, as its table names it (`nn.Module`)."""

    qualname: str
    category: str  # "module" or "function"

    def __repr__(self) -> str:
        return f"<class '{self.qualname}'>"


@dataclass(eq=False)
class UserClass:
    """A class the program defined: its name, base and attributes (methods included)."""

    name: str
    category: str  # "module", "function", "exception" or "plain"
    parent: "UserClass | None"
    attributes: dict[str, Any] = field(default_factory=dict)
    module_type: type[nn.Module] | None = None  # for category "module": the instances' type
    # For category "function": what apply calls.
    function_type: "type[ProgramFunction] | None" = None
    # For category "exception": the built-in exception the class derives from (ValueError...).
    exception_base: ExceptionClass | None = None
    # For categories "plain" and "exception": the instances' Python type (see object_type).
    object_type: "type[UserObject] | None" = None
    runner: SpecialRunner | None = field(default=None, repr=False)

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
    """An instance of a plain class (or an exception class) of the program.

    Python calls the special methods below itself (repr in print, == and hash in a set or a
    dict, < in sorted): each runs the program's method of that name when its class defines
    one and the program is running, else does what `object` does. Operators, len, iteration,
    indexing and calls are dispatched by the interpreter instead, so that torch never sees a
    value with a numeric or sequence protocol of the program's making.
    """

    cls: UserClass
    attributes: dict[str, Any] = field(default_factory=dict)
    # `e.args` of an instance of an exception class: what the constructor was given.
    exception_args: tuple[Any, ...] | None = None

    def special(self, name: str, *args: Any) -> tuple[bool, Any]:
        """(True, what the program's method `name` returned), or (False, None) when its class
        does not define it or the program is not running (the server reads the value)."""
        found, function = self.cls.find(name)
        runner = self.cls.runner
        if not found or function is None or runner is None or not runner.active():
            return False, None
        return True, runner.run_special(function, self, args)

    def __repr__(self) -> str:
        found, text = self.special("__repr__")
        if found:
            return str(text) if isinstance(text, str) else _not_string("__repr__", text)
        if self.exception_args is not None:
            inner = ", ".join(repr(arg) for arg in self.exception_args)
            return f"{self.cls.name}({inner})"
        return f"<__main__.{self.cls.name} object>"

    def __str__(self) -> str:
        found, text = self.special("__str__")
        if found:
            return str(text) if isinstance(text, str) else _not_string("__str__", text)
        if self.exception_args is not None:
            return exception_message(self.cls.name, self.exception_args)
        return repr(self)

    def __format__(self, spec: str) -> str:
        found, text = self.special("__format__", spec)
        if found:
            return str(text) if isinstance(text, str) else _not_string("__format__", text)
        if spec:
            raise ProgramError(
                "TypeError", f"unsupported format string passed to {self.cls.name}.__format__"
            )
        return str(self)

    def __eq__(self, other: object) -> Any:
        found, result = self.special("__eq__", other)
        return result if found else NotImplemented

    def __ne__(self, other: object) -> Any:
        found, result = self.special("__ne__", other)
        if found:
            return result
        found, result = self.special("__eq__", other)
        if not found or result is NotImplemented:
            return NotImplemented
        return not result

    def __lt__(self, other: object) -> Any:
        return self._compare("__lt__", other)

    def __le__(self, other: object) -> Any:
        return self._compare("__le__", other)

    def __gt__(self, other: object) -> Any:
        return self._compare("__gt__", other)

    def __ge__(self, other: object) -> Any:
        return self._compare("__ge__", other)

    def _compare(self, name: str, other: object) -> Any:
        found, result = self.special(name, other)
        return result if found else NotImplemented

    def __hash__(self) -> int:
        """As Python: a class that defines __eq__ without __hash__ is unhashable."""
        found, function = self.cls.find("__hash__")
        runner = self.cls.runner
        if runner is None or not runner.active() or not found:
            return object.__hash__(self)
        if function is None:
            raise ProgramError("TypeError", f"unhashable type: '{self.cls.name}'")
        result = runner.run_special(function, self, ())
        if not isinstance(result, int):
            raise ProgramError("TypeError", "__hash__ method should return an integer")
        return hash(result)

    def __bool__(self) -> bool:
        found, result = self.special("__bool__")
        if found:
            if not isinstance(result, bool):
                raise ProgramError(
                    "TypeError", f"__bool__ should return bool, returned {type(result).__name__}"
                )
            return result
        found, length = self.special("__len__")
        if found:
            return bool(checked_length(length))
        return True


def object_type(name: str, parent: type[UserObject]) -> type[UserObject]:
    """The Python type of a plain class's instances, named as the program names it, so that
    Python's own messages read as in a script ('<' not supported between instances of
    'Tensor' and 'Point'). It defines nothing of the program's: UserObject's methods look
    the program's up in its class table."""
    return type(name, (parent,), {"__module__": "__main__", "__qualname__": name})


def checked_length(length: Any) -> int:
    """What a program's __len__ returned, checked as Python checks it."""
    if not isinstance(length, int):
        raise ProgramError(
            "TypeError", f"'{type(length).__name__}' object cannot be interpreted as an integer"
        )
    if length < 0:
        raise ProgramError("ValueError", "__len__() should return >= 0")
    if length.bit_length() > 62:
        raise ProgramError("OverflowError", "cannot fit 'int' into an index-sized integer")
    return int(length)


def _not_string(method: str, value: Any) -> str:
    raise ProgramError("TypeError", f"{method} returned non-string (type {type(value).__name__})")


@dataclass(eq=False)
class PropertyValue:
    """`@property` in a class of the program: its getter and, once given, its setter."""

    getter: Any  # UserFunction
    setter: Any = None

    def __repr__(self) -> str:
        return "<property object>"


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

    def __deepcopy__(self, memo: dict[int, Any]) -> "UserModule":
        """TransformerEncoder(layer, n) deep-copies its layer: for a module of the program
        that would copy the interpreter it runs in, and every value the program holds."""
        raise ProgramError(
            "Not allowed",
            "torch would copy a module of the program here (TransformerEncoder copies its "
            "layer); build the layers in your own module instead",
            slug="not-allowed",
        )

    def extra_repr(self) -> str:
        """What print(model) shows after the class name: the program's extra_repr, run while
        the program runs (torch calls it from nn.Module.__repr__)."""
        cls = self.__dict__.get("_agx_class")
        found, function = cls.find("extra_repr") if cls is not None else (False, None)
        runner = cls.runner if cls is not None else None
        if not found or runner is None or not runner.active():
            return ""
        text = runner.run_special(function, self, ())
        return text if isinstance(text, str) else _not_string("extra_repr", text)


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
