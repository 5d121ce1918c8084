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
from dataclasses import dataclass
from typing import Any

from app.graphs import backward_order, pairs
from app.schemas import ChainFactor, ChainPath, ChainRuleInfo, EdgeInfo, NodeInfo
from app.text import format_number

MAX_PATHS = 16  # beyond this the sum is still right, but the listing no longer teaches
MAX_LISTED_FACTORS = 4_096  # factors listed over all leaves: the answer stays small

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
    """Per leaf, when the root and every node on the leaf's paths is a scalar.

    One pass over the graph, from the root down in topological order, computes for every
    node whether all its paths from the root are scalar, how many paths there are (capped),
    and d(root)/d(node) as the sum over paths of the products of the factors, which is the
    accumulation backward itself does. Paths are listed only for leaves with at most
    MAX_PATHS of them, and only while MAX_LISTED_FACTORS factors in all have not been
    listed: the work is linear in the graph, plus what is listed.
    """
    by_id = {node.id: node for node in nodes}
    if root not in by_id or _scalar(by_id[root].grad) is None:
        return {}
    into: dict[int, list[EdgeInfo]] = {}
    out_of: dict[int, list[EdgeInfo]] = {}
    for edge in edges:
        if not edge.cut and edge.source in by_id and edge.target in by_id:
            into.setdefault(edge.target, []).append(edge)
            out_of.setdefault(edge.source, []).append(edge)
    sums = _sums(root, by_id, into, out_of)
    names = {node.id: _name(node) for node in nodes}
    listing = Listing(by_id, into, out_of, names)
    result = {}
    for leaf in nodes:
        found = sums.get(leaf.id)
        if leaf.kind != "leaf" or found is None or found.paths == 0:
            continue
        paths = listing.paths(root, leaf.id, found) if found.paths <= MAX_PATHS else None
        result[names[leaf.id]] = _explain(names[root], names[leaf.id], found, paths)
    return result


@dataclass
class Sum:
    """What the paths from the root to one node add up to."""

    paths: int  # how many, capped at MAX_PATHS + 1
    factors: int  # factors the listing of every path holds, capped like `paths`
    value: float | None  # d(root)/d(node): the sum over paths of their products


def _sums(
    root: int,
    by_id: dict[int, NodeInfo],
    into: dict[int, list[EdgeInfo]],
    out_of: dict[int, list[EdgeInfo]],
) -> dict[int, Sum]:
    """A Sum for every node whose paths from the root are all scalar, in one pass from the
    root down in the order backward takes them (a node once every node it feeds is done)."""
    edges = pairs(edge for incoming in into.values() for edge in incoming)
    sums: dict[int, Sum] = {root: Sum(1, 0, 1.0)}
    for node in backward_order(root, edges)[1:]:
        if all(_scalar_edge(edge, by_id) for edge in out_of[node]):
            found = _sum_into(node, by_id, out_of, sums)
            if found is not None:
                sums[node] = found
    return sums


def _scalar_edge(edge: EdgeInfo, by_id: dict[int, NodeInfo]) -> bool:
    """Whether the edge is one factor of a scalar chain rule: its target is a scalar node
    all of whose own paths are scalar (checked before), and it carries a scalar."""
    target, source = by_id[edge.target], by_id[edge.source]
    return (
        _scalar(target.grad) is not None
        and _scalar(edge.grad) is not None
        and _scalar(source.grad) is not None
    )


def _sum_into(
    node: int, by_id: dict[int, NodeInfo], out_of: dict[int, list[EdgeInfo]], sums: dict[int, Sum]
) -> Sum | None:
    """None when a node it feeds has a path from the root that is not scalar."""
    paths, factors, value = 0, 0, 0.0
    known = True
    for edge in out_of[node]:
        above = sums.get(edge.target)
        if above is None:
            return None
        paths = min(paths + above.paths, MAX_PATHS + 1)
        factors = min(factors + above.factors + above.paths, MAX_LISTED_FACTORS + 1)
        factor = _factor(edge, by_id)
        if above.value is None or factor is None:
            known = False
        else:
            value += above.value * factor
    return Sum(paths, factors, value if known else None)


def _factor(edge: EdgeInfo, by_id: dict[int, NodeInfo]) -> float | None:
    """d target / d source: the node's own backward run on a gradient of 1, else the ratio
    of the gradient along the edge to the target's gradient."""
    if edge.local is not None:
        return edge.local
    grad, edge_grad = _scalar(by_id[edge.target].grad), _scalar(edge.grad)
    return None if grad is None or edge_grad is None else _ratio(edge_grad, grad)


@dataclass
class Listing:
    """Lists the paths of leaves with few, within MAX_LISTED_FACTORS factors in all."""

    by_id: dict[int, NodeInfo]
    into: dict[int, list[EdgeInfo]]
    out_of: dict[int, list[EdgeInfo]]
    names: dict[int, str]
    listed: int = 0

    def paths(self, root: int, leaf: int, found: Sum) -> list[ChainPath] | None:
        if self.listed + found.factors > MAX_LISTED_FACTORS:
            return None
        self.listed += found.factors
        # In the order of each node's inputs, from the root down, as backward takes them.
        walks = sorted(self._walks(root, leaf), key=lambda path: [self._position(e) for e in path])
        return [self._chain(path) for path in walks]

    def _position(self, edge: EdgeInfo) -> int:
        return next(i for i, e in enumerate(self.into[edge.target]) if e is edge)

    def _walks(self, root: int, leaf: int) -> list[list[EdgeInfo]]:
        """Every path of edges from the root down to the leaf, climbing from the leaf: each
        partial path ends at the root, so the work is what is listed."""
        found: list[list[EdgeInfo]] = []
        stack: list[tuple[int, list[EdgeInfo]]] = [(leaf, [])]
        while stack:
            node, path = stack.pop()
            if node == root:
                found.append(path)
                continue
            for edge in reversed(self.out_of.get(node, [])):
                stack.append((edge.target, [edge, *path]))
        return found

    def _chain(self, path: list[EdgeInfo]) -> ChainPath:
        factors = []
        for edge in path:
            target, source = self.by_id[edge.target], self.by_id[edge.source]
            inputs = _input_names(target, self.into.get(target.id, []), self.names)
            formula = FORMULAS.get(target.op)
            factors.append(
                ChainFactor(
                    derivative=f"d{self.names[target.id]}/d{self.names[source.id]}",
                    formula=formula(inputs, self.names[target.id], target.saved, edge.input_nr)
                    if formula
                    else None,
                    value=_factor(edge, self.by_id),
                )
            )
        product: float | None = 1.0
        for factor in factors:
            product = None if product is None or factor.value is None else product * factor.value
        return ChainPath(factors=factors, product=product)


def _explain(root: str, leaf: str, found: Sum, paths: list[ChainPath] | None) -> ChainRuleInfo:
    head = f"d{root}/d{leaf}"
    total = found.value
    if paths is None:
        many = f"more than {MAX_PATHS}" if found.paths > MAX_PATHS else str(found.paths)
        text = (
            f"{many} paths lead from {root} to {leaf}, too many to list; their shares add up "
            f"to {head} = {_number(total)}, as backward accumulates them"
        )
        return ChainRuleInfo(factors=[], product=total, paths=[], text=text)
    if len(paths) == 1:
        factors = paths[0].factors
        symbols = " · ".join(f.formula or f.derivative for f in factors)
        values = " · ".join(_number(f.value) for f in factors)
        text = f"{head} = {symbols} = {values} = {_number(total)}"
    else:
        shares = " + ".join(_number(p.product) for p in paths)
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
