"""Which boxes and edges `dot` is given for a graph: every node, with its uses spread out.

A node with many consumers (a weight, its transpose or a scaled copy used at every step of a
loop, a mask, a positional table) joined to all of them spans every rank of the picture, and
`dot` spends most of its time and super-linear effort placing such long edges. So its uses are
drawn apart (`_split`): a leaf once per use (a copy is a whole picture of it, having no
inputs), any other node once with its inputs and its first use, and a small reference box
for each other use. Many edges between the same two nodes (one tensor stacked thousands of
times) are drawn as one, labelled with their number (`_bundle`). Every node is drawn; the
JSON keeps every node and gradient too.
"""

from dataclasses import dataclass, field, replace

from app.contract.graphs import distances_to, pairs
from app.contract.schemas import EdgeInfo, GraphShape, NodeInfo


@dataclass(frozen=True)
class SpreadGraph:
    """The boxes and edges `dot` is given: the graph's nodes and edges, the leaves drawn once
    per use, the other nodes drawn with references, and the edges bundled into one."""

    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    copies: dict[int, int] = field(default_factory=dict)  # leaves drawn once per use
    # Other nodes with many uses: how many boxes stand for each (its own and its references),
    # and the one use drawn from its own box, the rest from references.
    references: dict[int, int] = field(default_factory=dict)
    kept_use: dict[int, EdgeInfo] = field(default_factory=dict)
    bundled: dict[tuple[int, int], int] = field(default_factory=dict)  # edges drawn as one

    def drawn_nodes(self) -> int:
        """Boxes `dot` places: every copy and every reference."""
        extra = sum(count - 1 for count in self.copies.values())
        extra += sum(count - 1 for count in self.references.values())
        return len(self.nodes) + extra

    def drawn_edges(self) -> int:
        return len(self.edges)


BUNDLE_OVER = 4  # more edges than this between the same two nodes are drawn as one


def fit(graph: GraphShape, split_over: int, max_boxes: int) -> SpreadGraph:
    """Every node of `graph`; nodes with more than `split_over` uses drawn apart, per use,
    those with fewest uses first, while the boxes stay within `max_boxes` (a dense graph,
    every operation using every leaf, would otherwise have the square of its nodes)."""
    return _split(_bundle(SpreadGraph(graph.nodes, graph.edges)), graph, split_over, max_boxes)


def _bundle(spread: SpreadGraph) -> SpreadGraph:
    """One edge for each pair of nodes joined by more than BUNDLE_OVER edges."""
    pairs: dict[tuple[int, int], int] = {}
    for edge in spread.edges:
        pairs[(edge.source, edge.target)] = pairs.get((edge.source, edge.target), 0) + 1
    bundled = {pair: count for pair, count in pairs.items() if count > BUNDLE_OVER}
    if not bundled:
        return spread
    seen: set[tuple[int, int]] = set()
    edges = []
    for edge in spread.edges:
        pair = (edge.source, edge.target)
        if pair in bundled:
            if pair in seen:
                continue
            seen.add(pair)
        edges.append(edge)
    return replace(spread, edges=edges, bundled=bundled)


def _split(spread: SpreadGraph, graph: GraphShape, split_over: int, max_boxes: int) -> SpreadGraph:
    """Leaves and other nodes with more than `split_over` uses drawn once per use. The use a
    non-leaf keeps is the one furthest from the root (in a loop, the first step), which is
    the nearest to its inputs: the edge it keeps is short."""
    uses: dict[int, list[EdgeInfo]] = {}
    for edge in spread.edges:
        uses.setdefault(edge.source, []).append(edge)
    many = {source: out for source, out in uses.items() if len(out) > split_over}
    if not many:
        return spread
    kinds = {node.id: node.kind for node in spread.nodes}
    # Edges from the root, each node's fewest.
    depth = {} if graph.root is None else distances_to(graph.root, pairs(graph.edges))
    copies, references, kept_use = {}, {}, {}
    spare = max_boxes - len(spread.nodes)
    for source, out in sorted(many.items(), key=lambda item: len(item[1])):
        spare -= len(out) - 1
        if spare < 0:
            break
        if kinds.get(source) == "leaf":
            copies[source] = len(out)
        else:
            references[source] = len(out)
            kept_use[source] = max(out, key=lambda edge: depth.get(edge.target, 0))
    return replace(spread, copies=copies, references=references, kept_use=kept_use)
