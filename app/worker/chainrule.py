"""The chain rule, read off the captured gradients of a scalar graph.

Along an edge from node u into node v, backward multiplied d(root)/dv by the local
derivative dv/du. Capture computes dv/du by running v's backward function on a gradient of 1
(EdgeInfo.local); failing that it is (gradient on the edge) / (gradient of v), exact
whenever v's gradient is not zero. The factors along one path from the root to a leaf
multiply to that path's share of the leaf's gradient; where several paths meet, the shares
add up. A small table (app.contract.derivatives) gives the symbolic form of the local
derivative for common operations (cos(y) for sin, 2x for x**2), so that the learner sees the
rule, not just numbers.
"""

from dataclasses import dataclass

from app.contract.derivatives import (
    FORMULAS,
    input_names,
    node_name,
    number_text,
    scalar_value,
)
from app.contract.graphs import backward_order, pairs
from app.contract.schemas import ChainFactor, ChainPath, ChainRuleInfo, EdgeInfo, NodeInfo

MAX_PATHS = 16  # beyond this the sum is still right, but the listing no longer teaches
MAX_LISTED_FACTORS = 4_096  # factors listed over all leaves: the answer stays small


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
    if root not in by_id or scalar_value(by_id[root].grad) is None:
        return {}
    into: dict[int, list[EdgeInfo]] = {}
    out_of: dict[int, list[EdgeInfo]] = {}
    for edge in edges:
        if not edge.cut and edge.source in by_id and edge.target in by_id:
            into.setdefault(edge.target, []).append(edge)
            out_of.setdefault(edge.source, []).append(edge)
    sums = _sums(root, by_id, into, out_of)
    names = {node.id: node_name(node) for node in nodes}
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
        scalar_value(target.grad) is not None
        and scalar_value(edge.grad) is not None
        and scalar_value(source.grad) is not None
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
    grad, edge_grad = scalar_value(by_id[edge.target].grad), scalar_value(edge.grad)
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
            inputs = input_names(target, self.into.get(target.id, []), self.names)
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
            f"to {head} = {number_text(total)}, as backward accumulates them"
        )
        return ChainRuleInfo(factors=[], product=total, paths=[], text=text)
    if len(paths) == 1:
        factors = paths[0].factors
        symbols = " · ".join(f.formula or f.derivative for f in factors)
        values = " · ".join(number_text(f.value) for f in factors)
        text = f"{head} = {symbols} = {values} = {number_text(total)}"
    else:
        shares = " + ".join(number_text(p.product) for p in paths)
        text = (
            f"{len(paths)} paths lead from {root} to {leaf}; their shares add up: "
            f"{head} = {shares} = {number_text(total)}"
        )
    return ChainRuleInfo(factors=paths[0].factors, product=total, paths=paths, text=text)


def _ratio(edge_grad: float, grad: float) -> float | None:
    return edge_grad / grad if grad != 0 else None
