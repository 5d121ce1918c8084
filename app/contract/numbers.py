"""Numbers as the product shows them, in the drawing, the chain rule's text and the notebook
client alike."""

from typing import Any

# Whole numbers below this print in full; JavaScript cannot tell 1e9 from 1000000000, so the
# page prints whole numbers from a float and from an int alike, and so does the drawing.
WHOLE_LIMIT = 1e15


def format_number(value: Any) -> str:
    """Numbers as PyTorch prints them: 4 decimals (-5.4668), scientific when tiny or huge,
    whole numbers without decimals. The page's formatNumber (static/format.js) is the same
    rule, so the drawing and the panels agree (tests/browser/test_numbers.py)."""
    if not isinstance(value, float):  # ints print whole; bools and text as they are
        return str(value)
    if value.is_integer() and abs(value) < WHOLE_LIMIT:
        return f"{value:.0f}"  # -0.0 stays "-0", as PyTorch prints it
    if 1e-4 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.4e}"


def format_tensor(value: Any, limit: int = 4) -> str:
    """A short text for a tensor's JSON form: a number, a few items, or a summary."""
    if isinstance(value, list):
        flat = _flatten(value, limit + 1)
        items = ", ".join(format_number(item) for item in flat[:limit])
        return f"[{items}{', …' if len(flat) > limit else ''}]"
    if isinstance(value, dict) and "shape" in value:
        return (
            f"min {format_number(value['min'])}, max {format_number(value['max'])}, "
            f"mean {format_number(value['mean'])}"
        )
    if value is None:
        return "—"
    return format_number(value)


def _flatten(value: Any, limit: int) -> list[Any]:
    out: list[Any] = []
    stack = [value]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out
