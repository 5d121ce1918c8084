"""Python's own values as a program may use them: builtins, container methods, bounded text.

Every function here counts its work against the budget before doing it, so `sum(range(10**12))`
or `'x' * 10**10` stop at the limit instead of running the server out of time or memory.
"""

import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.contract.errors import ProgramError, refused
from app.contract.text import without_addresses
from app.worker.sandbox.guard import Budget, range_length
from app.worker.sandbox.kinds import Iteration, Structure, kind_of
from app.worker.sandbox.values import Builtin, DictView

# str methods that build a new string, or pieces, about as long as the receiver.
NEW_TEXT = frozenset(
    {"lower", "upper", "strip", "lstrip", "rstrip", "split", "title", "capitalize"}
)


# Set methods that take iterables (their items are hashed) and may make a new set.
SET_ITERABLE_METHODS = frozenset(
    {"update", "union", "intersection", "difference", "symmetric_difference"}
    | {"issubset", "issuperset"}
)


class TextWriter:
    """Captures what `print` writes, keeping at most `limit` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def write(self, text: str) -> None:
        room = self.room()
        if len(text) > room:
            text = text[: max(room, 0)]
            self.truncated = True
        self.parts.append(text)
        self.size += len(text)

    def room(self) -> int:
        return max(self.limit - self.size, 0)

    def getvalue(self) -> str:
        suffix = "\n[output cut: too long]\n" if self.truncated else ""
        return "".join(self.parts) + suffix


def to_text(value: Any, limit: int, quoted: bool = False) -> str:
    """`str()`/`repr()` that never builds more than `limit` characters (lists can nest)."""
    out: list[str] = []
    _write_text(value, out, [limit], quoted, depth=0)
    return "".join(out)


def formatted(value: Any, spec: str, limit: int) -> str:
    """format(value, spec), as a field of an f-string or str.format (a 0-d tensor formats as
    its number), but a container is written within `limit` characters, and an object without
    a text of its own without its address (`to_text`)."""
    if is_container(value) and not spec:
        return to_text(value, limit)
    text = format(value, spec)
    return text if isinstance(value, str) else without_addresses(text)


NESTING = (list, tuple, set, frozenset, dict)
# Methods of lists and tuples that compare their argument with each item, in C. (`sort` is
# the interpreter's `sorted`.)
SEARCHING_METHODS = frozenset({"index", "count", "remove"})


def nested_size(value: Any, limit: int) -> tuple[int, int]:
    """The items C code meets walking `value` (comparing or hashing it: each list, tuple,
    set or dict and each thing in one, through every path, so that a list held twice counts
    twice), and how deep it nests. Each distinct container is looked at once, so a value
    built as `a = [a, a]` forty times is measured at once, though walking it would take
    2**40 steps; sizes stop growing past `limit`. A container that holds itself nests
    without end (C would recurse until it failed): RecursionError, as the interpreter's
    own recursion limit raises."""
    sizes: dict[int, tuple[int, int]] = {}
    opened: set[int] = set()
    # An item to measure, or (with its children) one whose children are measured.
    stack: list[tuple[Any, list[Any] | None]] = [(value, None)]
    while stack:
        item, measured_children = stack.pop()
        ident = id(item)
        if measured_children is not None:
            measured = [sizes.get(id(child), (1, 0)) for child in measured_children]
            size = 1 + sum(child[0] for child in measured)
            depth = 1 + max(child[1] for child in measured)
            sizes[ident] = (min(size, limit + 1), depth)
            continue
        if not isinstance(item, NESTING) or ident in sizes:
            continue
        children = [*item, *item.values()] if isinstance(item, dict) else list(item)
        if not any(issubclass(kind, NESTING) for kind in set(map(type, children))):
            sizes[ident] = (min(1 + len(children), limit + 1), 1)  # flat: measured in C
            continue
        if ident in opened:
            raise RecursionError("a list, tuple or dict holds itself")
        opened.add(ident)
        stack.append((item, children))
        stack.extend((child, None) for child in children if id(child) not in sizes)
    return sizes.get(id(value), (1, 0))


def is_container(value: Any) -> bool:
    """A plain list, tuple, set or dict (not torch.Size or a named tuple: those print as such)."""
    return kind_of(value).brackets is not None


def _write_text(value: Any, out: list[str], room: list[int], quoted: bool, depth: int) -> None:
    if room[0] <= 0:
        return
    kind = kind_of(value)
    if kind.brackets is not None and depth < 20:
        opening, closing = kind.brackets
        mapping = kind.structure == Structure.MAPPING
        items = list(value.items()) if mapping else list(value)
        # Brackets and separators use up the room too: a list of a hundred empty lists,
        # each of them held a hundred times six levels down, has no text but its brackets.
        _write(opening, out, room)
        for index, item in enumerate(items):
            if room[0] <= 0:
                out.append("...")
                break
            if index:
                _write(", ", out, room)
            if mapping:
                _write_text(item[0], out, room, True, depth + 1)
                _write(": ", out, room)
                _write_text(item[1], out, room, True, depth + 1)
            else:
                _write_text(item, out, room, True, depth + 1)
        if isinstance(value, tuple) and len(value) == 1:
            _write(",", out, room)
        _write(closing, out, room)
        return
    if kind.iteration == Iteration.VIEW:
        out.append(f"{value.type_name}(")
        room[0] -= len(value.type_name) + 2
        _write_text(value.items, out, room, True, depth + 1)
        out.append(")")
        return
    if kind.brackets is not None:
        text = "[...]"
    elif kind.printed_as_type:
        text = f"<{type(value).__name__}>"  # as PyTorch names it, without the address
    elif isinstance(value, str):
        text = repr(value) if quoted else value
    else:
        # An object without a text of its own prints where it is in memory: the same address
        # in every job a zygote forks, which would tell a native exploit the layout they share.
        text = without_addresses(repr(value) if quoted else str(value))
    _write(text, out, room)


def _write(text: str, out: list[str], room: list[int]) -> None:
    text = text[: max(room[0], 0)]
    room[0] -= len(text)
    out.append(text)


class PythonValues:
    """Builtins and container methods bound to one program's budget."""

    def __init__(
        self,
        budget: Budget,
        stdout: TextWriter,
        binop: Callable[[str, Any, Any], Any],
        truth: Callable[[Any], bool],
    ) -> None:
        self.budget = budget
        self.stdout = stdout
        self.binop = binop
        self.truth = truth
        self.text_limit = budget.limits.max_sequence_len
        # Items of an object of the program's classes (its __iter__ or __getitem__): the
        # interpreter runs those methods.
        self.iterate_object: Callable[[Any], list[Any]] = _not_iterable
        functions: dict[str, Callable[..., Any]] = {
            "print": self.builtin_print,
            "range": self.builtin_range,
            "len": len,
            "abs": self.builtin_abs,
            "sum": self.builtin_sum,
            "round": self.builtin_round,
            "float": float,
            "int": int,
            "bool": self.builtin_bool,
            "str": self.builtin_str,
            "repr": self.builtin_repr,
            "list": self.builtin_list,
            "tuple": self.builtin_tuple,
            "set": self.builtin_set,
            "dict": self.builtin_dict,
            "enumerate": self.builtin_enumerate,
            "zip": self.builtin_zip,
            "reversed": self.builtin_reversed,
            "any": self.builtin_any,
            "all": self.builtin_all,
            "divmod": divmod,
        }
        self.builtins = {name: Builtin(name, function) for name, function in functions.items()}

    # Hashing ---------------------------------------------------------------------------

    def key(self, value: Any) -> Any:
        """`value`, about to be hashed (a dict key, a set item, `in` a dict). Hashing a tuple
        recurses in C without a depth check: a tuple nested a few hundred thousand levels
        deep (built one level per loop turn) would overflow the stack and kill the worker."""
        if kind_of(value).hashed_items:
            size, depth = nested_size(value, self.budget.limits.max_total_items)
            self.budget.nesting(depth, "a dict key or set item")
            self.budget.walk(size, "hashing a dict key or set item")
        return value

    # C compares two containers item by item, in step, as deep as both go: never further
    # than every path through one of them (`nested_size`), measured before it starts. A
    # number compared with anything, or a container with a number, is one step.

    def compared(self, value: Any, other: Any) -> None:
        """`value == other`, `<` and the rest."""
        if isinstance(value, NESTING) and isinstance(other, NESTING):
            self.budget.walk(self._paths(value), "comparing nested values")

    def searched(self, value: Any, items: Any) -> None:
        """`value in items`, `items.index(value)`, `.count`, `.remove`: `value` compared with
        each item of a list, a tuple or a dict's view (`in d.values()`)."""
        if isinstance(items, DictView):
            items = items.items
        if isinstance(value, NESTING) and isinstance(items, list | tuple):
            self.budget.walk(self._paths(value) * len(items), "searching nested values")

    def sorting(self, items: list[Any]) -> None:
        """`sorted(items)`, `items.sort()`: about log2(n) comparisons of each item."""
        rounds = max(1, len(items).bit_length())
        self.budget.walk(self._paths(items) * rounds, "sorting nested values")

    def _paths(self, value: Any) -> int:
        size, _ = nested_size(value, self.budget.limits.max_total_items)
        return size

    # Iteration -------------------------------------------------------------------------

    def items(self, value: Any) -> list[Any]:
        """The items a `for` loop over `value` would see, counted against the budget."""
        match kind_of(value).iteration:
            case Iteration.SIZED:
                length = len(value)
            case Iteration.RANGE:
                length = range_length(value)
            case Iteration.TENSOR:
                if value.dim() == 0:
                    raise ProgramError("TypeError", "iteration over a 0-d tensor")
                length = value.shape[0]
            case Iteration.ITERATOR:
                rest: list[Any] = value.rest()
                return rest
            case Iteration.VIEW:
                length = len(value.items)
                value = value.items
            case Iteration.OBJECT:  # its __iter__ or __getitem__
                return self.iterate_object(value)
            case Iteration.NONE:
                raise ProgramError("TypeError", f"cannot loop over a {type(value).__name__}")
        self.budget.sequence(length, "a loop")
        self.budget.step(max(length // 64, 0))
        return list(value)

    # Builtins --------------------------------------------------------------------------

    def builtin_print(self, *values: Any, sep: Any = " ", end: Any = "\n") -> None:
        """Written piece by piece: `print(*range(10**5), sep='a' * 10**5)` must stop at the
        output limit, not build ten billion characters first."""
        for name, text in (("sep", sep), ("end", end)):
            if not isinstance(text, str | None):
                raise ProgramError("TypeError", f"print(): {name} must be a string or None")
        for index, value in enumerate(values):
            if index:
                self.stdout.write(" " if sep is None else sep)
            self.stdout.write(to_text(value, self.stdout.room()))
        self.stdout.write("\n" if end is None else end)

    def builtin_range(self, *args: int) -> range:
        return range(*args)

    def builtin_round(self, number: Any, ndigits: Any = None) -> Any:
        """round() without the power of ten it builds for an int: round(1, -10**9) would make
        10**(10**9) first. Past the number's own digits an int rounds to 0, as in Python."""
        if ndigits is None:
            return round(number)
        places = operator.index(ndigits)
        if isinstance(number, int) and places < 0 and -places > number.bit_length() + 1:
            return 0
        return round(number, places)

    def builtin_abs(self, value: Any) -> Any:
        return self.binop("abs", value, None)

    def builtin_bool(self, value: Any = False) -> bool:
        return self.truth(value)

    def builtin_str(self, value: Any = "") -> str:
        return to_text(value, self.text_limit)

    def builtin_repr(self, value: Any) -> str:
        return to_text(value, self.text_limit, quoted=True)

    def builtin_list(self, value: Any = ()) -> list[Any]:
        return self.items(value)

    def builtin_tuple(self, value: Any = ()) -> tuple[Any, ...]:
        return tuple(self.items(value))

    def builtin_set(self, value: Any = ()) -> set[Any]:
        return set(map(self.key, self.items(value)))

    def builtin_dict(self, value: Any = (), **kwargs: Any) -> dict[Any, Any]:
        pairs = value.items() if isinstance(value, dict) else list(map(self.key, self.items(value)))
        result = dict(pairs, **kwargs)
        self.budget.sequence(len(result), "a dict")
        return result

    def builtin_enumerate(self, value: Any, start: int = 0) -> list[tuple[int, Any]]:
        return list(enumerate(self.items(value), start))

    def builtin_zip(self, *values: Any) -> list[tuple[Any, ...]]:
        return list(zip(*(self.items(v) for v in values), strict=False))

    def builtin_reversed(self, value: Any) -> list[Any]:
        return self.items(value)[::-1]

    def builtin_any(self, value: Any) -> bool:
        return any(self.truth(item) for item in self.items(value))

    def builtin_all(self, value: Any) -> bool:
        return all(self.truth(item) for item in self.items(value))

    def builtin_sum(self, value: Any, start: Any = 0) -> Any:
        total = start
        for item in self.items(value):
            total = self.binop("+", total, item)
        return total

    # Methods of Python values ----------------------------------------------------------

    def call_method(
        self, receiver: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if "key" in kwargs:
            raise refused(f"{type(receiver).__name__}.{name}: 'key=' is not supported")
        self._check_growth(receiver, name, args)
        if isinstance(receiver, list | tuple) and name in SEARCHING_METHODS and args:
            self.searched(args[0], receiver)
        if isinstance(receiver, dict) and args:
            if name == "update" and not isinstance(args[0], dict):
                args = (list(map(self.key, self.items(args[0]))), *args[1:])
            else:
                self.key(args[0])
        if isinstance(receiver, set) and name in SET_ITERABLE_METHODS:
            args = tuple(set(map(self.key, self.items(arg))) for arg in args)
            self.budget.create(len(receiver) + sum(map(len, args)), "a set")
        elif isinstance(receiver, set) and args:
            self.key(args[0])
        result = getattr(receiver, name)(*args, **kwargs)
        if isinstance(receiver, dict) and name in {"keys", "values", "items"}:
            # Taken now: a live view is not a value the sandbox knows.
            prefix = "odict" if isinstance(receiver, OrderedDict) else "dict"
            return DictView(f"{prefix}_{name}", list(result))
        return result

    def _check_growth(self, receiver: Any, name: str, args: tuple[Any, ...]) -> None:
        size: Callable[[Any], int] = operator.length_hint
        if name in {"append", "insert", "setdefault", "add"}:
            self.budget.sequence(len(receiver) + 1)
        elif name in {"extend", "update"} and args:
            self.budget.sequence(len(receiver) + size(args[0]))
            self.budget.create(size(args[0]))
        elif name == "join" and args:
            parts = self.items(args[0])
            if not all(isinstance(part, str) for part in parts):
                raise ProgramError("TypeError", "join() needs a list of strings")
            self.budget.create(sum(map(len, parts)) + len(receiver) * len(parts), "a string")
        elif name in NEW_TEXT and isinstance(receiver, str):
            # A new string (or list of pieces) as long as the receiver, at every call.
            self.budget.create(len(receiver), "a string")
        elif name == "copy" and isinstance(receiver, list | dict):
            self.budget.create(len(receiver))
        elif name == "replace" and len(args) >= 2:
            old, new = str(args[0]), str(args[1])
            growth = (receiver.count(old) if old else len(receiver) + 1) * len(new)
            self.budget.create(len(receiver) + growth, "a string")


def _not_iterable(value: Any) -> list[Any]:
    raise ProgramError("TypeError", f"cannot loop over a {type(value).__name__}")
