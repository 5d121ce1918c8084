"""The words and numbers the answer shows: a number, a tensor's value, a node's title, a
module call's title, each written here once.

Capture puts the texts in the answer (NodeInfo.title, value_text, grad_text, grad_name,
EdgeInfo's grad_text, GroupInfo.title); the drawing (app/server/render.py) and the page (static/)
show them as they are, and the chain rule (app/worker/chainrule.py) writes its numbers with
`format_number`.

Pure functions of the answer's own data: this module imports nothing of the application but
its schemas, so the worker and the server can both use it.
"""

import re
from collections import Counter
from typing import Any

from app.contract.schemas import GraphShape, GroupInfo, NodeInfo

# Whole numbers below this print in full; JavaScript cannot tell 1e9 from 1000000000, so the
# page prints whole numbers from a float and from an int alike, and so does the drawing.
WHOLE_LIMIT = 1e15
# Items of a tensor's text: few, as the drawing sizes every box to its label (and Graphviz's
# layout time grows with the text); the Details panel shows every item in its grid.
TENSOR_ITEMS = 4
NO_VALUE = "None"  # what PyTorch prints for a gradient that never came: `print(x.grad)`
MAX_TITLE_NAMES = 3  # names in a node's title; the Details panel lists every one
# Where an object is in memory, as Python writes it in an object's text (`<torch._C.Generator
# object at 0x7f...>`), and a pointer as a C++ message writes it: every job process is forked
# from one zygote, so an address that one job showed would tell a native exploit in every
# later job where things are.
OBJECT_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
POINTER = re.compile(r"\b0x[0-9a-fA-F]{8,}\b")


def without_addresses(text: str) -> str:
    """`text` without the memory addresses in it: an object's text as `<X object>`, a
    pointer as `0x…`. For what Python and PyTorch write (an object's text, an error, a
    warning), never a string the program made."""
    return POINTER.sub("0x…", OBJECT_ADDRESS.sub("", text))


def format_number(value: Any) -> str:
    """Numbers as PyTorch prints them: 4 decimals (-5.4668), scientific when tiny or huge,
    whole numbers without decimals. The page's formatNumber (static/format.js), for the
    numbers of its grids, is the same rule (tests/browser/test_numbers.py)."""
    if not isinstance(value, float):  # ints print whole; bools and text as they are
        return str(value)
    if value.is_integer() and abs(value) < WHOLE_LIMIT:
        return f"{value:.0f}"  # -0.0 stays "-0", as PyTorch prints it
    if 1e-4 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.4e}"


def format_tensor(value: Any, limit: int = TENSOR_ITEMS) -> str:
    """A tensor's JSON form (app/worker/json_forms.py) in a few words: a number, its first `limit`
    items, or a large tensor's summary ("min -1, max 2, mean 0.5000": its shape is shown
    beside it wherever it is shown)."""
    if isinstance(value, list):
        flat = value[: limit + 1]
        if any(isinstance(item, list) for item in flat):
            flat = _flatten(value, limit + 1)
        items = ", ".join([_item(item) for item in flat[:limit]])
        return f"[{items}, …]" if len(flat) > limit else f"[{items}]"
    if isinstance(value, dict) and "shape" in value:
        return (
            f"min {format_number(value['min'])}, max {format_number(value['max'])}, "
            f"mean {format_number(value['mean'])}"
        )
    if value is None:
        return NO_VALUE
    return format_number(value)


def _item(item: Any) -> str:
    return format_number(item) if isinstance(item, float | int) else format_tensor(item)


def _flatten(value: list[Any], limit: int) -> list[Any]:
    """The first `limit` items of a nested list, in order, without walking the rest."""
    out: list[Any] = []
    stack: list[Any] = [value]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def shape_text(shape: list[int] | None) -> str:
    """ "scalar", or the sizes joined by a times sign: "32×16"; "unknown" for None."""  # noqa: RUF002
    if shape is None:
        return "unknown"
    return "scalar" if shape == [] else "\N{MULTIPLICATION SIGN}".join(map(str, shape))


def node_title(node: NodeInfo, layer: str | None = None) -> str:
    """ "x", "PowBackward0 → y", "AddmmBackward0 (model.0)" (`layer`: the module whose
    parameters the node uses, app/contract/graphs.py's `layers`), "n (cut, no grad)". At most
    MAX_TITLE_NAMES of the names bound to its output, and how many more."""
    names = ", ".join(node.variables[:MAX_TITLE_NAMES])
    if len(node.variables) > MAX_TITLE_NAMES:
        names += f" and {len(node.variables) - MAX_TITLE_NAMES:,} more"
    if node.kind == "leaf":
        title = names or "leaf"
    elif node.kind == "const":
        title = f"{names or 'constant'} (cut, no grad)"
    else:
        title = f"{node.op} → {names}" if names else node.op
    return f"{title} ({layer})" if layer else title


def grad_name(node: NodeInfo, root: str) -> str:
    """What a node's gradient is: d(root)/d(its output), e.g. "dz/dy". A leaf's .grad is
    another thing (it adds up over backward passes; a non-leaf's stays None), so neither the
    drawing nor the page calls this "grad"."""
    return f"d{root}/d{node.variables[0] if node.variables else '(this)'}"


def group_title(group: GroupInfo, calls: int) -> str:
    """ "model.layers.0 (TransformerEncoderLayer)"; "cell (RNNCell), call 4 of 12" for one of
    `calls` calls of the same module."""
    title = f"{group.module} ({group.type})"
    return f"{title}, call {group.call + 1} of {calls}" if calls > 1 else title


def write_texts(graph: GraphShape, layer_of: dict[int, str]) -> None:
    """Give a newly captured graph its texts, in place: every node's title (with its layer
    from `layer_of`, app/contract/graphs.py's `layers`), value, gradient, the gradient's name
    and shape,
    every edge's gradient and every module call's title."""
    root = next((node for node in graph.nodes if node.id == graph.root), None)
    root_name = root.variables[0] if root and root.variables else "(root)"
    calls = Counter(group.module for group in graph.groups)
    for group in graph.groups:
        group.title = group_title(group, calls[group.module])
    # Capture's summaries are one object per tensor content (a node's gradient is the one
    # its incoming edges carried, its value what the next node saved): each written once.
    # The graph holds every one of them meanwhile, so no id is reused.
    written: dict[int, str] = {}

    def text(value: Any) -> str:
        if not isinstance(value, list | dict):
            return format_tensor(value)
        found = written.get(id(value))
        if found is None:
            found = written[id(value)] = format_tensor(value)
        return found

    for node in graph.nodes:
        node.title = node_title(node, layer_of.get(node.id))
        node.value_text = text(node.value)
        node.grad_text = text(node.grad)
        node.grad_name = grad_name(node, root_name)
        node.shape_text = shape_text(node.shape)
    for edge in graph.edges:
        edge.grad_text = text(edge.grad)
