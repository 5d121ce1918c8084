"""Which part of a very large graph is drawn: both ends in full, the middle as one box.

A 1,000-step loop makes thousands of nodes; `dot` needs seconds for them and nobody reads the
result. The steps repeat, so the picture keeps the nodes nearest the root (where the loss is
computed) and nearest the inputs (the first steps), and one box stands for the nodes left
out, with the edges into and out of it. The JSON always keeps every node and gradient.
"""

from dataclasses import dataclass, field

from app.schemas import EdgeInfo, GraphShape, NodeInfo


@dataclass(frozen=True)
class Drawing:
    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    hidden: int = 0  # nodes left out of the picture
    into_gap: list[int] = field(default_factory=list)  # drawn nodes that feed hidden ones
    out_of_gap: list[int] = field(default_factory=list)  # drawn nodes fed by hidden ones


def elide(graph: GraphShape, limit: int) -> Drawing:
    """All of `graph` when it has at most `limit` nodes, else its two ends and a gap."""
    if len(graph.nodes) <= limit:
        return Drawing(graph.nodes, graph.edges)
    depth = _depths(graph)
    by_depth = sorted(graph.nodes, key=lambda node: depth.get(node.id, 0))
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
