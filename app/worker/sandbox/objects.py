"""How the program's own objects take part in Python's protocols: operators, comparisons,
`in`, iteration, len, iter/next, hash, float/int.

The interpreter dispatches these itself, as Python would (`a + b` tries a.__add__, then
b.__radd__), so that torch is never handed a value with a numeric or sequence protocol of
the program's making. Python calls the few it must (repr, ==, <, hash in a set) on
UserObject, which hands them back here through `run_special`.
"""

from collections.abc import Callable
from typing import Any

from app.contract.errors import ProgramError
from app.worker.sandbox.classes import UserClass, UserObject, checked_length
from app.worker.sandbox.exceptions import CATCHABLE_SLUGS, EXCEPTION_CLASSES
from app.worker.sandbox.guard import Budget
from app.worker.sandbox.kinds import Access, kind_of
from app.worker.sandbox.pyvalues import PythonValues
from app.worker.sandbox.values import ListIterator

# The special method behind each operator, for the program's own classes.
OPERATOR_METHODS: dict[str, str] = {
    **{
        symbol: name
        for symbol, name in zip(
            "+ - * @ / // % ** << >> | ^ &".split(),
            "add sub mul matmul truediv floordiv mod pow lshift rshift or xor and".split(),
            strict=True,
        )
    },
    "abs": "abs",
    "neg": "neg",
    "pos": "pos",
    "invert": "invert",
}
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


class ObjectProtocol:
    """The part of the interpreter that runs the program's special methods."""

    budget: Budget
    python: PythonValues
    running: bool

    def call_bound(
        self, function: Any, receiver: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        raise NotImplementedError

    def truth(self, value: Any) -> bool:
        raise NotImplementedError

    def binop(self, symbol: str, left: Any, right: Any, inplace: bool = False) -> Any:
        raise NotImplementedError

    def matches(self, error: ProgramError, handler: Any) -> bool:
        raise NotImplementedError

    def object_operator(
        self, symbol: str, function: Callable[..., Any], operands: tuple[Any, ...], inplace: bool
    ) -> Any:
        """An operator with an object of the program's classes on either side, dispatched as
        Python does: `a + b` tries a.__add__(b), then b.__radd__(a) (first when b's class
        derives from a's); `x += y` tries __iadd__ first. The other operand's own method is
        never called: int, float, str, list and Tensor all give way to the program's class
        (Tensor.__add__ returns NotImplemented for a value it cannot read)."""
        if symbol in COMPARISONS or symbol in {"is", "is not"}:
            # Python's rich comparison calls UserObject.__eq__/__lt__..., which run the
            # program's methods; a tensor's own comparison gives way as above.
            try:
                return function(*operands)
            except TypeError:
                left, right = operands
                raise ProgramError(
                    "TypeError",
                    f"'{symbol}' not supported between instances of '{type_name(left)}' and "
                    f"'{type_name(right)}'",
                ) from None
        if symbol in {"in", "not in"}:
            found = self.contains(operands[1], operands[0])
            return found if symbol == "in" else not found
        name = OPERATOR_METHODS.get(symbol)
        if name is None:
            raise ProgramError("TypeError", f"'{symbol}' is not supported for these operands")
        if len(operands) == 1:
            (value,) = operands
            found, result = self.special(value, f"__{name}__")
            if found:
                return result
            raise ProgramError(
                "TypeError", f"bad operand type for unary {symbol}: '{type_name(value)}'"
            )
        left, right = operands
        attempts: list[tuple[Any, str, Any]] = []
        if inplace:
            attempts.append((left, f"__i{name}__", right))
        reflected = (right, f"__r{name}__", left)
        left_class, right_class = class_of(left), class_of(right)
        if (
            right_class is not None
            and left_class is not None
            and right_class is not left_class
            and right_class.is_subclass_of(left_class)
        ):
            attempts.append(reflected)
        attempts.append((left, f"__{name}__", right))
        if right_class is not left_class or left_class is None:
            attempts.append(reflected)
        for receiver, method, other in attempts:
            found, result = self.special(receiver, method, other)
            if found and result is not NotImplemented:
                return result
        shown = symbol + "=" if inplace else symbol
        raise ProgramError(
            "TypeError",
            f"unsupported operand type(s) for {shown}: '{type_name(left)}' and "
            f"'{type_name(right)}'",
        )

    def special(self, value: Any, name: str, *args: Any) -> tuple[bool, Any]:
        """(True, result) of the program's special method `name` of `value`, if it has one."""
        if not isinstance(value, UserObject):
            return False, None
        found, function = value.cls.find(name)
        if not found or function is None:
            return False, None
        return True, self.run_special(function, value, args)

    # SpecialRunner: Python calls these through UserObject (repr in print, hash in a set).

    def active(self) -> bool:
        return self.running

    def run_special(self, function: Any, receiver: Any, args: tuple[Any, ...]) -> Any:
        self.budget.step()
        return self.call_bound(function, receiver, args, {})

    def contains(self, container: Any, item: Any) -> bool:
        """`item in container` for a container of the program's classes: its __contains__,
        else a search through its items (__iter__ or __getitem__), as Python does."""
        found, result = self.special(container, "__contains__", item)
        if found:
            return self.truth(result)
        if not isinstance(container, UserObject):
            return bool(item in container)
        return any(
            candidate is item or self.truth(self.binop("==", candidate, item))
            for candidate in self.object_items(container)
        )

    def object_items(self, value: Any) -> list[Any]:
        """The items a `for` loop over an object of the program's classes sees: what its
        __iter__ returns (a list, an iterator, or an object with __next__), else its items
        by __getitem__(0), (1)... until IndexError. Counted against the budget one by one."""
        if not isinstance(value, UserObject):
            raise ProgramError("TypeError", f"'{type_name(value)}' object is not iterable")
        found, iterator = self.special(value, "__iter__")
        if found and not isinstance(iterator, UserObject):
            return self.python.items(iterator)
        if found:
            if not iterator.cls.find("__next__")[0]:
                raise ProgramError(
                    "TypeError", f"iter() returned non-iterator of type '{type_name(iterator)}'"
                )
            source, method, ending = iterator, "__next__", "StopIteration"
        elif value.cls.find("__getitem__")[0]:
            source, method, ending = value, "__getitem__", "IndexError"
        else:
            raise ProgramError("TypeError", f"'{type_name(value)}' object is not iterable")
        items: list[Any] = []
        while True:
            index = () if method == "__next__" else (len(items),)
            try:
                items.append(self.special(source, method, *index)[1])
            except ProgramError as error:
                if error.slug in CATCHABLE_SLUGS and self.matches(error, EXCEPTION_CLASSES[ending]):
                    return items
                raise
            self.budget.sequence(len(items), "a loop")
            self.budget.step()

    def builtin_len(self, value: Any) -> int:
        if isinstance(value, UserObject):
            found, length = self.special(value, "__len__")
            if not found:
                raise ProgramError("TypeError", f"object of type '{type_name(value)}' has no len()")
            return checked_length(length)
        return len(value)

    def builtin_hash(self, value: Any) -> int:
        """hash(x), as a program's __hash__ writes it: hash((self.a, self.b))."""
        return hash(self.python.key(value))

    def builtin_iter(self, value: Any) -> ListIterator:
        """iter(x): an iterator over x's items, taken now (a program never holds a lazy one)."""
        if isinstance(value, ListIterator):
            return value
        return ListIterator(self.python.items(value))

    def builtin_next(self, iterator: Any, *default: Any) -> Any:
        if isinstance(iterator, UserObject):
            found, result = self.special(iterator, "__next__")
            if found:
                return result
        if not isinstance(iterator, ListIterator):
            raise ProgramError("TypeError", f"'{type_name(iterator)}' object is not an iterator")
        if len(default) > 1:
            raise ProgramError("TypeError", "next expected at most 2 arguments")
        if iterator.exhausted() and default:
            return default[0]
        return iterator.next()

    def builtin_float(self, *args: Any) -> float:
        if args and isinstance(args[0], UserObject):
            found, result = self.special(args[0], "__float__")
            if not found or not isinstance(result, float):
                raise ProgramError(
                    "TypeError",
                    f"{type_name(args[0])}.__float__ returned non-float"
                    if found
                    else f"float() argument must be a string or a real number, not "
                    f"'{type_name(args[0])}'",
                )
            return result
        return float(*args)

    def builtin_int(self, *args: Any, **kwargs: Any) -> int:
        if args and isinstance(args[0], UserObject):
            found, result = self.special(args[0], "__int__")
            if not found or not (isinstance(result, int) and not isinstance(result, bool)):
                raise ProgramError(
                    "TypeError",
                    f"__int__ returned non-int (type {type_name(result)})"
                    if found
                    else f"int() argument must be a string, a bytes-like object or a real "
                    f"number, not '{type_name(args[0])}'",
                )
            return int(result)
        return int(*args, **kwargs)


def type_name(value: Any) -> str:
    """The name Python gives the value's type in an error ('Value', 'Tensor', 'int')."""
    own = class_of(value)
    if own is not None:
        return own.name
    return kind_of(value).shown_name or type(value).__name__


def class_of(value: Any) -> UserClass | None:
    """The program's class of an object or a module of the program's."""
    match kind_of(value).access:
        case Access.OBJECT:
            return value.cls  # type: ignore[no-any-return]
        case Access.PROGRAM_MODULE:
            return value._agx_class  # type: ignore[no-any-return]
    return None
