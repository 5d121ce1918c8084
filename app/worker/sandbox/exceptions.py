"""Python's built-in exceptions as a program may raise and catch them.

A program never holds a real exception or its traceback. An error while it runs is a
`ProgramError` whose `title` names the exception (`ValueError`, torch's `RuntimeError`);
`except` matches it by that name through the table below (or, for an exception class of the
program, by its class), and binds an `ExceptionValue`:
the name and the arguments the program gave (or the message), nothing else. Limits, refusals
and syntax errors are never caught: a program cannot swallow the end of its own budget.
"""

from dataclasses import dataclass
from typing import Any

from app.contract.errors import ProgramError

# Each exception class a program may name, with its base class.
HIERARCHY: dict[str, str | None] = {
    "BaseException": None,
    "Exception": "BaseException",
    "ArithmeticError": "Exception",
    "ZeroDivisionError": "ArithmeticError",
    "OverflowError": "ArithmeticError",
    "LookupError": "Exception",
    "KeyError": "LookupError",
    "IndexError": "LookupError",
    "ValueError": "Exception",
    "TypeError": "Exception",
    "RuntimeError": "Exception",
    "NotImplementedError": "RuntimeError",
    "AssertionError": "Exception",
    "StopIteration": "Exception",
    "NameError": "Exception",
    "AttributeError": "Exception",
}
# Only errors of the program's own making can be caught.
CATCHABLE_SLUGS = frozenset({"program-error"})


@dataclass(frozen=True)
class ExceptionClass:
    """`ValueError` as a program sees it: callable to make an exception, usable in except."""

    name: str

    def __repr__(self) -> str:
        return f"<class '{self.name}'>"

    def is_subclass_of(self, other: "ExceptionClass") -> bool:
        name: str | None = self.name
        while name is not None:
            if name == other.name:
                return True
            name = HIERARCHY.get(name)
        return False


@dataclass(eq=False)
class ExceptionValue:
    """An exception a program made or caught: its class name and its arguments."""

    name: str
    args: tuple[Any, ...]
    message: str

    def __repr__(self) -> str:
        return f"{self.name}({self.message!r})"

    def __str__(self) -> str:
        return self.message


def exception_message(name: str, args: tuple[Any, ...]) -> str:
    """str(e), as Python writes it: the one argument, or the tuple of them; bounded."""
    # Imported here: pyvalues sits above the classes module, which needs this one.
    from app.worker.sandbox.pyvalues import to_text

    if not args:
        return ""
    if len(args) == 1:
        return to_text(args[0], 1000, quoted=name == "KeyError")
    return to_text(args, 1000, quoted=True)


EXCEPTION_CLASSES = {name: ExceptionClass(name) for name in HIERARCHY}
# Attributes of a caught exception a program may read.
EXCEPTION_ATTRIBUTES = frozenset({"args"})


def caught_value(error: ProgramError) -> Any:
    """What `except ... as e` binds for `error`: what the program raised (an ExceptionValue,
    or an instance of its own exception class), else the error as an ExceptionValue."""
    if error.raised is not None:
        return error.raised
    return ExceptionValue(error.title, (error.detail,), error.detail)
