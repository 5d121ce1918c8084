"""Module calls as clusters or boxes: the graph as a view draws it.

A view (GraphView) says which groups (module calls) are collapsed into one box and which
repeated calls of one module are rolled into one box ("cell x12"). `apply_view` turns the
graph and a view into the graph to draw: the nodes still shown, one box node per collapsed
group or roll, and the edges between them, with every expanded group a cluster. It is a
pure function of the two, so a drawing can be cached by them.

`default_view` picks the view a big graph opens in: groups collapsed at the deepest level
of module calls that keeps the number of boxes readable, repeated calls rolled.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from app.contract.schemas import EdgeInfo, GraphShape, GraphView, GroupInfo, NodeInfo

# A graph of at most WHOLE_NODES nodes is drawn whole; a bigger one is collapsed until it has
# at most READABLE_BOXES boxes, where its module calls allow.
WHOLE_NODES = 20
READABLE_BOXES = 40


@dataclass(frozen=True)
class Box:
    """A collapsed group, or a roll of calls, drawn as one node."""

    groups: list[GroupInfo]  # one, or the rolled calls in order
    output: NodeInfo | None  # the last call's output: the node whose value leaves the box
    parameters: list[NodeInfo]  # the leaves inside: parameters, with their gradients
    hidden: int  # nodes it stands for

    @property
    def element(self) -> str:
        return element_id(self.groups[0].id)


@dataclass
class ViewedGraph:
    """What a view draws."""

    shape: GraphShape  # shown nodes and box nodes (ids from `box_base` up), edges between
    boxes: dict[int, Box] = field(default_factory=dict)  # by box node id
    cluster_of: dict[int, int | None] = field(default_factory=dict)  # drawn node -> cluster
    clusters: dict[int, GroupInfo] = field(default_factory=dict)  # expanded, with content
    shown_in: dict[int, str] = field(default_factory=dict)  # hidden node -> box element id


def element_id(group: int) -> str:
    return f"group-{group}"


def rolls(groups: list[GroupInfo]) -> dict[int, list[GroupInfo]]:
    """Calls of one module inside one enclosing group, when there are several: keyed by the
    first call's group id. One module means one set of parameters."""
    by_key: dict[tuple[int | None, str], list[GroupInfo]] = defaultdict(list)
    for group in groups:
        by_key[(group.parent, group.module)].append(group)
    return {calls[0].id: calls for calls in by_key.values() if len(calls) > 1}


def depths(groups: list[GroupInfo]) -> dict[int, int]:
    """Nesting depth of each group: 0 at top level. Parents come before their children."""
    found: dict[int, int] = {}
    for group in groups:
        found[group.id] = 0 if group.parent is None else found[group.parent] + 1
    return found


def default_view(shape: GraphShape) -> GraphView:
    """The whole graph when small. Else the deepest level of module calls whose drawing has
    at most READABLE_BOXES boxes (the top level when none has): every call at that level
    collapsed (and those inside, so that expanding one opens one level), and above it every
    call of a module without modules of its own (a Linear's addmm and transpose are its
    business), repeats rolled."""
    if len(shape.nodes) <= WHOLE_NODES or not shape.groups:
        return GraphView()
    depth = depths(shape.groups)
    parents = {group.parent for group in shape.groups}
    innermost = _innermost_depth(shape)
    innermost_group = {n: g.id for g in shape.groups for n in g.nodes}
    rolled = rolls(shape.groups)
    in_roll = {group.id for calls in rolled.values() for group in calls[1:]}
    for level in range(max(depth.values()), -1, -1):
        collapsed = [g.id for g in shape.groups if depth[g.id] >= level or g.id not in parents]
        closed = set(collapsed)
        shown = sum(
            1
            for node_id, d in innermost.items()
            if d < level and innermost_group.get(node_id) not in closed
        )
        boxes = sum(1 for gid in _outermost(shape.groups, closed) if gid not in in_roll)
        if shown + boxes <= READABLE_BOXES or level == 0:
            return GraphView(
                collapsed=collapsed,
                rolled=[first for first in rolled if first in closed],
            )
    return GraphView()  # not reached: level 0 always returns


def _outermost(groups: list[GroupInfo], collapsed: set[int]) -> list[int]:
    """The collapsed groups no other collapsed group holds: the others are not drawn."""
    hidden: set[int] = set()
    for group in groups:  # parents first
        if group.parent is not None and (group.parent in collapsed or group.parent in hidden):
            hidden.add(group.id)
    return [group.id for group in groups if group.id in collapsed and group.id not in hidden]


def _innermost_depth(shape: GraphShape) -> dict[int, int]:
    """Node id -> depth of the group directly holding it (-1: top level)."""
    depth = depths(shape.groups)
    found = {node.id: -1 for node in shape.nodes}
    for group in shape.groups:
        for node_id in group.nodes:
            found[node_id] = depth[group.id]
    return found


def apply_view(shape: GraphShape, view: GraphView) -> ViewedGraph:
    """The graph to draw for `view` (unknown group ids in it are ignored)."""
    if not shape.groups:
        return ViewedGraph(shape=shape, cluster_of={node.id: None for node in shape.nodes})
    groups = {group.id: group for group in shape.groups}
    collapsed = {gid for gid in view.collapsed if gid in groups}
    # Each group's representative: itself, or the outermost collapsed group around it.
    stands_for: dict[int, int | None] = {}
    for group in shape.groups:  # parents first
        outer = stands_for.get(group.parent) if group.parent is not None else None
        stands_for[group.id] = (
            outer if outer is not None else (group.id if group.id in collapsed else None)
        )
    all_rolls = rolls(shape.groups)
    roll_of: dict[int, int] = {}
    # Each roll once, however often the view names it: the work stays within the groups'.
    for first in set(view.rolled):
        calls = all_rolls.get(first)
        if calls and all(stands_for[call.id] == call.id for call in calls):
            roll_of.update({call.id: first for call in calls})
    box_base = max((node.id for node in shape.nodes), default=-1) + 1

    def box_id(gid: int) -> int:
        return box_base + roll_of.get(gid, gid)

    group_of = {node_id: group.id for group in shape.groups for node_id in group.nodes}
    members: dict[int, list[NodeInfo]] = defaultdict(list)  # box node id -> nodes inside
    drawn_as: dict[int, int] = {}
    viewed = ViewedGraph(shape=shape, clusters={})
    shown: list[NodeInfo] = []
    for node in shape.nodes:
        gid = group_of.get(node.id)
        outer = stands_for.get(gid) if gid is not None else None
        if outer is None:
            drawn_as[node.id] = node.id
            shown.append(node)
            viewed.cluster_of[node.id] = gid
        else:
            drawn_as[node.id] = box_id(outer)
            members[box_id(outer)].append(node)
    edges = _edges(shape.edges, drawn_as, {box_base + first for first in set(roll_of.values())})
    last_out = _outputs(shape, drawn_as, set(members))
    box_nodes: list[NodeInfo] = []
    for box, inside in members.items():
        calls = all_rolls[box - box_base] if box - box_base in roll_of else [groups[box - box_base]]
        output = last_out.get(box)
        info = Box(
            groups=calls,
            output=output,
            parameters=[node for node in inside if node.kind == "leaf"],
            hidden=len(inside),
        )
        viewed.boxes[box] = info
        viewed.cluster_of[box] = calls[0].parent
        for node in inside:
            viewed.shown_in[node.id] = info.element
        box_nodes.append(
            NodeInfo.model_construct(
                id=box,
                op=calls[0].type,
                kind="op",
                variables=[],
                shape=output.shape if output else None,
                dtype=output.dtype if output else None,
                value=None,
                grad=output.grad if output else None,
                saved={},
                backward_step=output.backward_step if output else None,
                note=None,
                module=calls[0].module,
                call=calls[0].call,
            )
        )
    for gid in {c for c in viewed.cluster_of.values() if c is not None}:
        while gid is not None and gid not in viewed.clusters:
            viewed.clusters[gid] = groups[gid]
            gid = groups[gid].parent
    viewed.shape = GraphShape.model_construct(
        root=drawn_as.get(shape.root) if shape.root is not None else None,
        nodes=[*shown, *box_nodes],
        edges=edges,
        groups=shape.groups,
    )
    return viewed


def _edges(edges: list[EdgeInfo], drawn_as: dict[int, int], roll_boxes: set[int]) -> list[EdgeInfo]:
    """Edges between drawn nodes, once per pair; inside a box they vanish, but a roll keeps
    one loop onto itself: each call feeds the next."""
    seen: set[tuple[int, int]] = set()
    out = []
    for edge in edges:
        source, target = drawn_as.get(edge.source), drawn_as.get(edge.target)
        if source is None or target is None:
            continue
        moved = source != edge.source or target != edge.target
        if source == target and source not in roll_boxes:
            continue
        if moved:
            if (source, target) in seen:
                continue
            seen.add((source, target))
            edge = edge.model_copy(update={"source": source, "target": target, "local": None})
        out.append(edge)
    return out


def _outputs(shape: GraphShape, drawn_as: dict[int, int], boxes: set[int]) -> dict[int, NodeInfo]:
    """Box node id -> the node whose value leaves it: of those feeding a node outside, the
    one backward ran first (the last the forward pass made). The root, if inside, is it."""
    by_id = {node.id: node for node in shape.nodes}
    found: dict[int, NodeInfo] = {}

    def order(node: NodeInfo) -> float:
        if node.id == shape.root:
            return -1
        return node.backward_step if node.backward_step is not None else float("inf")

    leaving = [
        (drawn_as[edge.source], by_id[edge.source])
        for edge in shape.edges
        if drawn_as.get(edge.source) in boxes and drawn_as.get(edge.target) != drawn_as[edge.source]
    ]
    if shape.root is not None and drawn_as.get(shape.root) in boxes:
        leaving.append((drawn_as[shape.root], by_id[shape.root]))
    for box, node in leaving:
        if node.kind != "leaf" and (box not in found or order(node) < order(found[box])):
            found[box] = node
    return found
