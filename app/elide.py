"""Which part of a very large graph is drawn: both ends in full, the middle as one box.

A 1,000-step loop makes thousands of nodes; `dot` needs seconds for them and nobody reads the
result. The steps repeat, so the picture keeps the nodes nearest the root (where the loss is
computed) and nearest the inputs (the first steps), and one box stands for the nodes left
out, with the edges into and out of it. The JSON always keeps every node and gradient.

What `dot` is given is bounded as drawn, not as captured (`fit`): a leaf drawn once per use
counts once per copy, and many edges between the same two nodes (one tensor stacked
thousands of times) are drawn as one, labelled with their number.
"""

import math
from dataclasses import dataclass, field, replace

from app.schemas import EdgeInfo, GraphShape, NodeInfo


@dataclass(frozen=True)
class Drawing:
    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    hidden: int = 0  # nodes left out of the picture
    into_gap: list[int] = field(default_factory=list)  # drawn nodes that feed hidden ones
    out_of_gap: list[int] = field(default_factory=list)  # drawn nodes fed by hidden ones
    copies: dict[int, int] = field(default_factory=dict)  # leaves drawn once per use
    bundled: dict[tuple[int, int], int] = field(default_factory=dict)  # edges drawn as one

    def drawn_nodes(self) -> int:
        """Boxes `dot` places: every copy, and the gap's box."""
        extra = sum(count - 1 for count in self.copies.values())
        return len(self.nodes) + extra + (1 if self.hidden else 0)

    def drawn_edges(self) -> int:
        return len(self.edges) + len(self.into_gap) + len(self.out_of_gap)


BUNDLE_OVER = 4  # more edges than this between the same two nodes are drawn as one
SHRINK = 0.8  # each try keeps at most this share of the nodes the try before kept


def fit(graph: GraphShape, max_nodes: int, max_edges: int, split_over: int) -> Drawing:
    """The largest picture of `graph` within `max_nodes` boxes and `max_edges` edges.

    Leaves with more than `split_over` uses are drawn once per use (one node with edges into
    every step of a loop, spanning many ranks, is what makes `dot` super-linear); each copy
    counts. When the picture does not fit, fewer nodes are kept, each try at most SHRINK of
    the one before, so the tries are few; with one node kept, one box and no edge remain.
    """
    limit = max_nodes
    by_depth = ordered(graph) if len(graph.nodes) > limit else None
    while True:
        drawing = _split(_bundle(elide(graph, limit, by_depth)), split_over)
        nodes, edges = drawing.drawn_nodes(), drawing.drawn_edges()
        if (nodes <= max_nodes and edges <= max_edges) or limit <= 1:
            return drawing
        # Copies and edges can grow with the square of the nodes kept (every op using every
        # leaf): the square root of the overshoot shrinks enough without throwing away most.
        over = min(max_nodes / max(nodes, 1), max_edges / max(edges, 1))
        limit = max(1, int(limit * min(SHRINK, math.sqrt(over))))


def _bundle(drawing: Drawing) -> Drawing:
    """One edge for each pair of nodes joined by more than BUNDLE_OVER edges."""
    pairs: dict[tuple[int, int], int] = {}
    for edge in drawing.edges:
        pairs[(edge.source, edge.target)] = pairs.get((edge.source, edge.target), 0) + 1
    bundled = {pair: count for pair, count in pairs.items() if count > BUNDLE_OVER}
    if not bundled:
        return drawing
    seen: set[tuple[int, int]] = set()
    edges = []
    for edge in drawing.edges:
        pair = (edge.source, edge.target)
        if pair in bundled:
            if pair in seen:
                continue
            seen.add(pair)
        edges.append(edge)
    return replace(drawing, edges=edges, bundled=bundled)


def _split(drawing: Drawing, split_over: int) -> Drawing:
    """Leaves (no inputs, so each copy is a whole picture of them) with many uses."""
    uses: dict[int, int] = {}
    for edge in drawing.edges:
        uses[edge.source] = uses.get(edge.source, 0) + 1
    copies = {
        node.id: uses[node.id]
        for node in drawing.nodes
        if node.kind == "leaf" and uses.get(node.id, 0) > split_over
    }
    return replace(drawing, copies=copies)


def elide(graph: GraphShape, limit: int, by_depth: list[NodeInfo] | None = None) -> Drawing:
    """All of `graph` when it has at most `limit` nodes, else its two ends and a gap.
    `by_depth` is `ordered(graph)`, when already known."""
    if len(graph.nodes) <= limit:
        return Drawing(graph.nodes, graph.edges)
    by_depth = by_depth if by_depth is not None else ordered(graph)
    near_root = limit // 2
    kept = by_depth[:near_root] + by_depth[len(by_depth) - (limit - near_root) :]
    keep = {node.id for node in kept}
    edges = [e for e in graph.edges if e.source in keep and e.target in keep]
    into = [e.source for e in graph.edges if e.source in keep and e.target not in keep]
    out = [e.target for e in graph.edges if e.target in keep and e.source not in keep]
    return Drawing(
        nodes=[node for node in graph.nodes if node.id in keep],
        edges=edges,
        hidden=len(graph.nodes) - len(keep),
        into_gap=list(dict.fromkeys(into)),
        out_of_gap=list(dict.fromkeys(out)),
    )


def ordered(graph: GraphShape) -> list[NodeInfo]:
    """The nodes, nearest the root first."""
    depth = _depths(graph)
    return sorted(graph.nodes, key=lambda node: depth.get(node.id, 0))


def _depths(graph: GraphShape) -> dict[int, int]:
    """Edges from the root, walking backward (breadth first, so each node's shortest)."""
    inputs: dict[int, list[int]] = {}
    for edge in graph.edges:
        inputs.setdefault(edge.target, []).append(edge.source)
    if graph.root is None:
        return {}
    depth = {graph.root: 0}
    frontier = [graph.root]
    while frontier:
        following = []
        for node in frontier:
            for source in inputs.get(node, []):
                if source not in depth:
                    depth[source] = depth[node] + 1
                    following.append(source)
        frontier = following
    return depth
