"""Values of the sandbox's own making that a program holds: a function of the program and
its scope, a method bound to a receiver, a builtin, an iterator and a dict view.

They sit below everything that decides what a value may do (`kinds`), so that the table of
kinds can name them.
"""

import ast
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.contract.errors import ProgramError
from app.worker.sandbox.classes import UserClass

# Builtins that are classes in Python: type(3) is int, isinstance(x, float).
TYPE_BUILTINS: dict[str, type] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "set": set,
    "range": range,
}


@dataclass(frozen=True)
class Builtin:
    """A Python builtin as the sandbox provides it."""

    name: str
    function: Callable[..., Any]

    def __repr__(self) -> str:
        if self.name in TYPE_BUILTINS:
            return f"<class '{self.name}'>"
        return f"<built-in function {self.name}>"

    def check_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Wrong arguments are named after the builtin, not after our implementation of it
        (`print(x, file=...)`, `sorted(xs, key=...)`)."""
        signature = _signature(self.function)
        if signature is None:
            return  # a C builtin without a signature (len, round): it checks its own arguments
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            raise ProgramError("TypeError", f"{self.name}(): {error}") from None


def _signature(function: Callable[..., Any]) -> inspect.Signature | None:
    """The signature callers must match. A method of the per-job PythonValues is looked up
    through its function, so that the cache holds no job's objects."""
    unbound = getattr(function, "__func__", None)
    return _inspected(unbound, True) if unbound is not None else _inspected(function, False)


@functools.cache
def _inspected(function: Callable[..., Any], method: bool) -> inspect.Signature | None:
    """Builtins are few and fixed: inspect each once per worker, not on every call."""
    try:
        signature = inspect.signature(function)
    except ValueError:
        return None
    parameters = list(signature.parameters.values())
    return signature.replace(parameters=parameters[1:]) if method else signature


@dataclass(eq=False)
class Scope:
    """Names of one function call (or the module), looked up through enclosing scopes."""

    names: dict[str, Any]
    parent: "Scope | None" = None

    def lookup(self, name: str) -> tuple[bool, Any]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True, scope.names[name]
            scope = scope.parent
        return False, None

    def visible(self) -> dict[str, Any]:
        chain: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        merged: dict[str, Any] = {}
        for outer in reversed(chain):
            merged.update(outer.names)
        return merged


@dataclass(eq=False)
class UserFunction:
    """A function the program defined; its body is interpreted when called."""

    node: ast.FunctionDef | ast.Lambda
    defaults: list[Any]
    scope: Scope
    owner: UserClass | None = None  # the class whose body defined it (for super())
    static: bool = False  # @staticmethod: called without the instance
    grad_mode: type | None = None  # @torch.no_grad() or @torch.enable_grad()
    keyword_defaults: dict[str, Any] | None = None  # of keyword-only parameters
    receives_class: bool = False  # @classmethod: called with the class

    @property
    def name(self) -> str:
        return self.node.name if isinstance(self.node, ast.FunctionDef) else "<lambda>"

    def __repr__(self) -> str:
        return f"<function {self.name}>"


@dataclass(eq=False)
class BoundMethod:
    """`receiver.name`, where `name` is on the allowlist for the receiver's kind."""

    receiver: Any
    name: str

    def __repr__(self) -> str:
        return f"<method {type(self.receiver).__name__}.{self.name}>"


@dataclass(frozen=True, eq=False)
class DictView:
    """What d.keys(), d.values() and d.items() give: the items, taken at the call, printed
    as Python prints the view (`odict_keys(['weight', 'bias'])` for a state_dict)."""

    type_name: str  # "dict_keys", "odict_values"...
    items: list[Any]

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: object) -> bool:
        return item in self.items

    def __repr__(self) -> str:
        from app.worker.sandbox.pyvalues import to_text  # which prints a view, so imports this

        return to_text(self, 10_000, quoted=True)


class ListIterator:
    """What iter(x) gives: the items of x, taken when iter was called, handed out by next()."""

    def __init__(self, items: list[Any]) -> None:
        self._items = items
        self._position = 0

    def __repr__(self) -> str:
        return "<list_iterator object>"

    def exhausted(self) -> bool:
        return self._position >= len(self._items)

    def next(self) -> Any:
        if self.exhausted():
            raise ProgramError("StopIteration", "")
        self._position += 1
        return self._items[self._position - 1]

    def rest(self) -> list[Any]:
        """The items not handed out yet, now handed out (a loop over the iterator)."""
        items = self._items[self._position :]
        self._position = len(self._items)
        return items
