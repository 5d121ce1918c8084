"""`str.format` and `%` formatting, bounded, with no attribute or item access in fields.

Python's own `str.format` resolves `{0.__class__}` and `{0[key]}` on its arguments, which
would reach past the allowlist; here a field may only name an argument (`{}`, `{0}`,
`{name}`). Widths and precisions are bounded like f-string specs, and every value is
written by the same bounded `to_text` as print, or by `format(value, spec)` for a spec.
"""

import re
import string
from collections.abc import Callable
from typing import Any

import torch

from app.contract.errors import ProgramError, refused

MAX_WIDTH = 100
NUMBER = re.compile(r"\d+")
FIELD_NAME = re.compile(r"\d+|[A-Za-z]\w*|")
# One %-conversion: %(key)flags width .precision type
PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<type>.?)"
)
TEXT_TYPES = frozenset("sra")
NUMBER_TYPES = frozenset("diouxXeEfFgGc")


def check_spec(spec: str) -> None:
    if "{" in spec or "}" in spec:
        raise refused("a format spec cannot hold another field; write the number itself")
    if any(int(number) > MAX_WIDTH for number in NUMBER.findall(spec)):
        raise refused(f"format spec '{spec}' asks for more than {MAX_WIDTH} characters")


def format_text(
    template: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    write: Callable[[Any, str, str | None], str],
) -> str:
    """`template.format(*args, **kwargs)`; `write(value, spec, conversion)` writes one value."""
    pieces: list[str] = []
    automatic = 0
    numbering: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ProgramError("ValueError", str(error)) from None
    for literal, field, spec, conversion in parsed:
        pieces.append(literal)
        if field is None:
            continue
        if not FIELD_NAME.fullmatch(field):
            raise refused(
                f"format field '{{{field}}}': a field names an argument ({{}}, {{0}}, {{name}}), "
                "not its attributes or items; compute the value first"
            )
        check_spec(spec or "")
        if field == "":
            numbering.add("automatic")
            value = _positional(args, automatic)
            automatic += 1
        elif field.isdigit():
            numbering.add("manual")
            value = _positional(args, int(field))
        elif field in kwargs:
            value = kwargs[field]
        else:
            raise ProgramError("KeyError", repr(field))
        if len(numbering) > 1:
            raise ProgramError(
                "ValueError", "cannot switch from automatic field numbering to manual"
            )
        pieces.append(write(value, spec or "", conversion))
    return "".join(pieces)


def _positional(args: tuple[Any, ...], index: int) -> Any:
    if index >= len(args):
        raise ProgramError(
            "IndexError", f"Replacement index {index} out of range for positional args tuple"
        )
    return args[index]


def percent_format(template: str, values: Any, text: Callable[[Any, bool], str]) -> str:
    """`template % values`. Text conversions are written by `text(value, quoted)` first;
    numbers are left to Python, with widths and precisions bounded."""
    conversions = list(PERCENT.finditer(template))
    named = any(match["key"] is not None for match in conversions)
    items = values if isinstance(values, tuple) else (values,)
    position = 0
    rebuilt: list[str] = []
    converted: list[Any] = []
    mapping: dict[str, Any] = {}
    last = 0
    for match in conversions:
        rebuilt.append(template[last : match.start()])
        last = match.end()
        conversion, width, precision = match["type"], match["width"], match["precision"]
        if conversion == "%":
            rebuilt.append("%%")
            continue
        if "*" in (width, precision):
            raise refused("'*' widths in % formatting are not supported; write the number")
        if any(int(n) > MAX_WIDTH for n in (width, precision) if n):
            raise refused(f"'{match.group()}' asks for more than {MAX_WIDTH} characters")
        if conversion not in TEXT_TYPES | NUMBER_TYPES:
            raise ProgramError("ValueError", f"unsupported format character {conversion!r}")
        if named:
            if not isinstance(values, dict) or match["key"] is None:
                raise ProgramError("TypeError", "format requires a mapping")
            if match["key"] not in values:
                raise ProgramError("KeyError", repr(match["key"]))
            value = values[match["key"]]
        else:
            if position >= len(items):
                raise ProgramError("TypeError", "not enough arguments for format string")
            value = items[position]
            position += 1
        if conversion in TEXT_TYPES:
            value, conversion = text(value, conversion != "s"), "s"
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()  # "%.4f" % loss, as Python reads a one-element tensor
        elif not isinstance(value, int | float):
            raise ProgramError(
                "TypeError",
                f"%{conversion} format: a real number is required, not {type(value).__name__}",
            )
        key = f"v{len(converted)}"
        mapping[key] = value
        converted.append(value)
        rebuilt.append(f"%({key}){match['flags']}{width or ''}")
        rebuilt.append(f".{precision}" if precision is not None else "")
        rebuilt.append(conversion)
    rebuilt.append(template[last:])
    if not named and position < len(items) and not (isinstance(values, dict) and not conversions):
        raise ProgramError("TypeError", "not all arguments converted during string formatting")
    return "".join(rebuilt) % mapping
