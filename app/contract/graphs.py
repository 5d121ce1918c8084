"""Walks over a graph's edges, written once: which nodes are reached from a node, which reach
it (and how far they are), the order backward can take them in, and which module's
parameters each operation uses.

Edges are (source, target) pairs, data flowing from source to target in the forward pass and
gradients back. The walks are iterative (graphs can be tens of thousands of nodes deep) and
generic in the node: capture walks PyTorch's own nodes, the drawing and the chain rule the
answer's ids. Pure functions of the answer's own data, like app/contract/text.py: nothing of the
application but its schemas is imported, so the worker and the server can both use them.
"""

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

from app.contract.schemas import EdgeInfo, GraphShape

Node = TypeVar("Node", bound=Hashable)


def pairs(edges: Iterable[EdgeInfo]) -> Iterator[tuple[int, int]]:
    """(source, target) of each of the answer's edges."""
    return ((edge.source, edge.target) for edge in edges)


def reached_from(
    starts: Iterable[Node], inputs: Callable[[Node], Iterable[Node]]
) -> Iterator[Node]:
    """Every node reached from `starts` by following `inputs` (a node -> the nodes it leads
    to), each once, depth first: the last of a node's inputs is taken first. Lazy: a node's
    `inputs` are asked for only once the caller has taken the node, so a caller that finds
    the graph too big stops the walk there, and `inputs` may note the edges as it goes."""
    stack = list(starts)
    seen: set[Node] = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(inputs(node))


def distances_to(root: Node, edges: Iterable[tuple[Node, Node]]) -> dict[Node, int]:
    """Every node from which `root` can be reached, with the fewest edges on the way (`root`
    itself at 0): the nodes a backward pass from `root` goes through. Breadth first, walking
    the edges backward from the root."""
    inputs: dict[Node, list[Node]] = {}
    for source, target in edges:
        inputs.setdefault(target, []).append(source)
    distance = {root: 0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            for source in inputs.get(node, []):
                if source not in distance:
                    distance[source] = distance[node] + 1
                    following.append(source)
        frontier = following
    return distance


def backward_order(root: Node, edges: Iterable[tuple[Node, Node]]) -> list[Node]:
    """`root`, then every node that reaches it, each after every node it feeds: an order
    backward can run them in, so that a node's gradient is complete when it comes. Nodes
    on a cycle (there is none in an autograd graph) are left out."""
    edges = list(edges)
    reaching = distances_to(root, edges)
    inputs: dict[Node, list[Node]] = {}
    waiting: dict[Node, int] = {}
    for source, target in edges:
        if source in reaching and target in reaching:
            inputs.setdefault(target, []).append(source)
            waiting[source] = waiting.get(source, 0) + 1
    order = []
    ready = [root] if waiting.get(root, 0) == 0 else []
    while ready:
        node = ready.pop()
        order.append(node)
        for source in inputs.get(node, []):
            waiting[source] -= 1
            if waiting[source] == 0:
                ready.append(source)
    return order


# Operations that only rearrange a tensor: a layer's weight reaches its product through them.
REARRANGING = frozenset(
    {"TBackward0", "TransposeBackward0", "PermuteBackward0", "ViewBackward0", "ExpandBackward0"}
)


def layers(graph: GraphShape) -> dict[int, str]:
    """The module a node belongs to, where its inputs say so: an operation fed by the
    parameters of one module (model.0.weight and model.0.bias, directly or through a
    transpose) is that module's ("model.0"). Parameters are the leaves named by a path."""
    by_id = {node.id: node for node in graph.nodes}
    into: dict[int, list[int]] = {}
    for source, target in pairs(graph.edges):
        into.setdefault(target, []).append(source)

    def modules(node_id: int, depth: int) -> set[str]:
        node = by_id.get(node_id)
        if node is None:
            return set()
        if node.kind == "leaf":
            return {name.rsplit(".", 1)[0] for name in node.variables if "." in name}
        if depth and node.op in REARRANGING:
            return {m for source in into.get(node_id, []) for m in modules(source, depth - 1)}
        return set()

    found = {}
    for node in graph.nodes:
        if node.kind in {"op", "root"}:
            owners = {m for source in into.get(node.id, []) for m in modules(source, 2)}
            if len(owners) == 1:
                found[node.id] = owners.pop()
    return found
