"""The symbolic local derivatives of common operations (cos(y) for sin, 2x for x**2), named
as the program names its tensors: the chain rule's explanation (app.worker.chainrule) and the
drawing's edge labels (app.server.render) read the same table."""

from collections.abc import Callable
from typing import Any

from app.contract.schemas import EdgeInfo, NodeInfo
from app.contract.text import format_number

# op -> (names of its inputs, name of its output, saved values, input_nr) -> formula
Formula = Callable[[list[str], str, dict[str, Any], int], str | None]


def _pow(inputs: list[str], output: str, saved: dict[str, Any], nr: int) -> str | None:
    exponent = saved.get("exponent")
    if not isinstance(exponent, int | float) or isinstance(exponent, bool):
        return None
    if exponent == 2:
        return f"2{inputs[0]}"
    return f"{format_number(exponent)}·{inputs[0]}^{format_number(exponent - 1)}"


FORMULAS: dict[str, Formula] = {
    "PowBackward0": _pow,
    "SinBackward0": lambda i, o, s, nr: f"cos({i[0]})",
    "CosBackward0": lambda i, o, s, nr: f"-sin({i[0]})",
    "ExpBackward0": lambda i, o, s, nr: f"exp({i[0]})",
    "LogBackward0": lambda i, o, s, nr: f"1/{i[0]}",
    "SqrtBackward0": lambda i, o, s, nr: f"1/(2·{o})",
    "SigmoidBackward0": lambda i, o, s, nr: f"{o}·(1-{o})",
    "TanhBackward0": lambda i, o, s, nr: f"1-{o}²",
    "ReluBackward0": lambda i, o, s, nr: f"[{i[0]} > 0]",
    "NegBackward0": lambda i, o, s, nr: "-1",
    "AddBackward0": lambda i, o, s, nr: "1",
    "SubBackward0": lambda i, o, s, nr: "1" if nr == 0 else "-1",
    "MulBackward0": lambda i, o, s, nr: i[1 - nr],
    "DivBackward0": lambda i, o, s, nr: f"1/{i[1]}" if nr == 0 else f"-{i[0]}/{i[1]}²",
    # ...1: the other operand is a Python number, saved as `other`.
    "AddBackward1": lambda i, o, s, nr: "1",
    "SubBackward1": lambda i, o, s, nr: "1",
    "RsubBackward1": lambda i, o, s, nr: "-1",
    "MulBackward1": lambda i, o, s, nr: number_text(scalar_value(s.get("other"))),
    "DivBackward1": lambda i, o, s, nr: f"1/{number_text(scalar_value(s.get('other')))}",
}
OPERANDS = ("self", "other")  # saved names of a binary op's inputs, by input_nr


def input_names(target: NodeInfo, edges: list[EdgeInfo], names: dict[int, str]) -> list[str]:
    """Names of a node's inputs by input_nr; a constant input is named by its saved value."""
    inputs = []
    for nr, operand in enumerate(OPERANDS):
        edge = next((e for e in edges if e.input_nr == nr), None)
        if edge is not None:
            inputs.append(names[edge.source])
        else:
            inputs.append(number_text(scalar_value(target.saved.get(operand))))
    return inputs


def node_name(node: NodeInfo) -> str:
    """The program's name of a node's tensor, else its operation and id (pow#3)."""
    if node.variables:
        return node.variables[0]
    return f"{node.op.removesuffix('Backward0').removesuffix('Backward1').lower()}#{node.id}"


def scalar_value(value: Any) -> float | None:
    """The number in a one-element tensor's JSON, else None."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def number_text(value: float | None) -> str:
    """A factor as the explanation prints it; "?" for one that is not known."""
    return "?" if value is None else format_number(value + 0.0)  # + 0.0: no "-0" shown


def edge_formulas(nodes: list[NodeInfo], edges: list[EdgeInfo]) -> dict[tuple[int, int, int], str]:
    """The symbolic local derivative of each edge (source, target, input_nr) whose target's
    operation the table knows, e.g. "2x" on the edge from x into y = x**2: the drawing puts
    it beside the edge's factor."""
    by_id = {node.id: node for node in nodes}
    names = {node.id: node_name(node) for node in nodes}
    into: dict[int, list[EdgeInfo]] = {}
    for edge in edges:
        if not edge.cut:
            into.setdefault(edge.target, []).append(edge)
    found = {}
    for target_id, incoming in into.items():
        target = by_id.get(target_id)
        formula = FORMULAS.get(target.op) if target else None
        if target is None or formula is None:
            continue
        inputs = input_names(target, incoming, names)
        for edge in incoming:
            text = formula(inputs, names[target_id], target.saved, edge.input_nr)
            if text is not None:
                found[(edge.source, edge.target, edge.input_nr)] = text
    return found
