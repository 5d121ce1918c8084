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
