"""The chain rule, read off the captured gradients of a scalar graph.

Along an edge from node u into node v, backward multiplied d(root)/dv by the local
derivative dv/du. Capture computes dv/du by running v's backward function on a gradient of 1
(EdgeInfo.local); failing that it is (gradient on the edge) / (gradient of v), exact
whenever v's gradient is not zero. The factors along one path from the root to a leaf
multiply to that path's share of the leaf's gradient; where several paths meet, the shares
add up. A small table gives the symbolic form of the local derivative for common
operations (cos(y) for sin, 2x for x**2), so that the learner sees the rule, not just numbers.
"""

from collections.abc import Callable
from typing import Any

from app.render import format_number
from app.schemas import ChainFactor, ChainPath, ChainRuleInfo, EdgeInfo, NodeInfo

MAX_PATHS = 16  # beyond this the sum is still right, but the listing no longer teaches

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
    "MulBackward1": lambda i, o, s, nr: _number(_scalar(s.get("other"))),
    "DivBackward1": lambda i, o, s, nr: f"1/{_number(_scalar(s.get('other')))}",
}
OPERANDS = ("self", "other")  # saved names of a binary op's inputs, by input_nr


def chain_rule(
    nodes: list[NodeInfo], edges: list[EdgeInfo], root: int | None
) -> dict[str, ChainRuleInfo]:
    """Per leaf, when the root and every node on the leaf's paths is a scalar."""
    by_id = {node.id: node for node in nodes}
    if root not in by_id or _scalar(by_id[root].grad) is None:
        return {}
    into: dict[int, list[EdgeInfo]] = {}
    for edge in edges:
        if not edge.cut:
            into.setdefault(edge.target, []).append(edge)
    names = {node.id: _name(node) for node in nodes}
    result = {}
    for leaf in nodes:
        if leaf.kind != "leaf":
            continue
        paths = _paths(root, leaf.id, into)
        if paths is None or not paths:
            continue
        chains = [_chain(path, by_id, into, names) for path in paths]
        if any(chain is None for chain in chains):
            continue
        result[names[leaf.id]] = _explain(names[root], names[leaf.id], [c for c in chains if c])
    return result


def _paths(root: int, leaf: int, into: dict[int, list[EdgeInfo]]) -> list[list[EdgeInfo]] | None:
    """Every path of edges from the root down to the leaf; None when there are too many."""
    found: list[list[EdgeInfo]] = []
    stack: list[tuple[int, list[EdgeInfo]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if node == leaf:
            found.append(path)
            if len(found) > MAX_PATHS:
                return None
            continue
        for edge in reversed(into.get(node, [])):
            stack.append((edge.source, [*path, edge]))
    return found


def _chain(
    path: list[EdgeInfo],
    by_id: dict[int, NodeInfo],
    into: dict[int, list[EdgeInfo]],
    names: dict[int, str],
) -> ChainPath | None:
    factors = []
    for edge in path:
        target, source = by_id[edge.target], by_id[edge.source]
        grad, edge_grad = _scalar(target.grad), _scalar(edge.grad)
        if grad is None or edge_grad is None or _scalar(source.grad) is None:
            return None  # not a scalar graph along this path
        inputs = _input_names(target, into.get(target.id, []), names)
        formula = FORMULAS.get(target.op)
        factors.append(
            ChainFactor(
                derivative=f"d{names[target.id]}/d{names[source.id]}",
                formula=formula(inputs, names[target.id], target.saved, edge.input_nr)
                if formula
                else None,
                value=edge.local if edge.local is not None else _ratio(edge_grad, grad),
            )
        )
    product: float | None = 1.0
    for factor in factors:
        product = None if product is None or factor.value is None else product * factor.value
    return ChainPath(factors=factors, product=product)


def _explain(root: str, leaf: str, paths: list[ChainPath]) -> ChainRuleInfo:
    products = [path.product for path in paths]
    total = None if None in products else sum(p for p in products if p is not None)
    head = f"d{root}/d{leaf}"
    if len(paths) == 1:
        factors = paths[0].factors
        symbols = " · ".join(f.formula or f.derivative for f in factors)
        values = " · ".join(_number(f.value) for f in factors)
        text = f"{head} = {symbols} = {values} = {_number(total)}"
    else:
        shares = " + ".join(_number(p) for p in products)
        text = (
            f"{len(paths)} paths lead from {root} to {leaf}; their shares add up: "
            f"{head} = {shares} = {_number(total)}"
        )
    return ChainRuleInfo(factors=paths[0].factors, product=total, paths=paths, text=text)


def _input_names(target: NodeInfo, edges: list[EdgeInfo], names: dict[int, str]) -> list[str]:
    """Names of a node's inputs by input_nr; a constant input is named by its saved value."""
    inputs = []
    for nr, operand in enumerate(OPERANDS):
        edge = next((e for e in edges if e.input_nr == nr), None)
        if edge is not None:
            inputs.append(names[edge.source])
        else:
            inputs.append(_number(_scalar(target.saved.get(operand))))
    return inputs


def _ratio(edge_grad: float, grad: float) -> float | None:
    return edge_grad / grad if grad != 0 else None


def _name(node: NodeInfo) -> str:
    if node.variables:
        return node.variables[0]
    return f"{node.op.removesuffix('Backward0').removesuffix('Backward1').lower()}#{node.id}"


def _scalar(value: Any) -> float | None:
    """The number in a one-element tensor's JSON, else None."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _number(value: float | None) -> str:
    return "?" if value is None else format_number(value + 0.0)  # + 0.0: no "-0" shown


def edge_formulas(nodes: list[NodeInfo], edges: list[EdgeInfo]) -> dict[tuple[int, int, int], str]:
    """The symbolic local derivative of each edge (source, target, input_nr) whose target's
    operation the table knows, e.g. "2x" on the edge from x into y = x**2: the drawing puts
    it beside the edge's factor."""
    by_id = {node.id: node for node in nodes}
    names = {node.id: _name(node) for node in nodes}
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
        inputs = _input_names(target, incoming, names)
        for edge in incoming:
            text = formula(inputs, names[target_id], target.saved, edge.input_nr)
            if text is not None:
                found[(edge.source, edge.target, edge.input_nr)] = text
    return found
