"""Stage 4: build Graphviz DOT from the captured graph (`app/server/layout.py` draws it).

Labels hold only text we format ourselves (HTML-escaped); no URL or href attribute is ever
built, from user data or otherwise. Node and edge ids and classes come through into the SVG
so the page can find them. The DOT is written directly rather than through the `graphviz`
package, whose quoting costs more than the layout itself on graphs of hundreds of nodes.
"""

import html
import re
from collections import Counter
from typing import Any

from app.contract.derivatives import edge_formulas
from app.contract.schemas import EdgeInfo, GraphShape, GraphView, NodeInfo
from app.contract.text import format_number, format_tensor, shape_text
from app.server.placement import label_width, place
from app.server.spread_uses import SpreadGraph, fit
from app.server.views import Box, ViewedGraph, apply_view

COLOURS = {
    "leaf": "#cfe6fb",
    "op": "#eef0f3",
    "root": "#c9efc4",
    "saved": "#fde3c3",
    "const": "#f2f2f2",
    "group": "#e9e3f8",
}
CLUSTER_ATTRS = {
    "style": "rounded,filled",
    "fillcolor": "#f7f8fb",
    "color": "#a9b1bd",
    "penwidth": "1",
    "fontsize": "11",
    "labeljust": "l",
}
MAX_BOX_PARAMETERS = 4  # parameters listed in a collapsed box; Details has every one
LEGEND = (
    ("leaf", "leaf tensor (requires_grad)"),
    ("op", "operation: its backward node"),
    ("root", "root: where backward starts"),
    ("saved", "saved for backward"),
)
CONST_LEGEND = ("const", "constant cut from the graph: no gradient")
CUT_COLOUR = "#9aa1ab"
# Constants (made under no_grad, by detach() or after requires_grad_(False)) and the edges
# out of them are dashed and grey: the cut is where gradients stop.
CUT_EDGE_STYLE = {"style": "dashed", "color": CUT_COLOUR, "fontcolor": CUT_COLOUR}
CUT_NODE_STYLE = {**CUT_EDGE_STYLE, "style": "rounded,filled,dashed"}
EDGE_LABEL_LIMIT = 150  # beyond this many nodes, gradient labels on edges only add clutter


def _edge_text(grad: Any) -> str:
    """An edge's gradient in few words: two items, or a large tensor's shape and mean (the
    node it reaches and the Details panel have the rest): every label is text Graphviz must
    measure, and a drawing's layout time grows with it."""
    if isinstance(grad, dict) and "shape" in grad:
        return f"{shape_text(grad['shape'])}, mean {format_number(grad['mean'])}"
    return format_tensor(grad, 2)


GRAPH_ATTRS = {
    "rankdir": "TB",
    "bgcolor": "transparent",
    "fontname": "Helvetica",
    "nodesep": "0.3",
    "ranksep": "0.45",
}


def graph_attrs(big: bool, boxes: int) -> dict[str, str]:
    """`dot` for all but the biggest drawings; `nop2` (the boxes' own `pos`) beyond what
    `dot` lays out in time. `newrank` (one ranking of the whole graph) lays out long loops
    in much less time than `dot`'s default ranking (`python -m bench hubs` measures it)."""
    if not big:
        return GRAPH_ATTRS
    if boxes > DOT_MAX_BOXES:
        return {**GRAPH_ATTRS, "layout": "nop2", "splines": "line"}
    return {**GRAPH_ATTRS, "newrank": "true"}


NODE_ATTRS = {
    "shape": "box",
    "style": "rounded,filled",
    "fontname": "Helvetica",
    "fontsize": "11",
    "penwidth": "1.2",
    "color": "#5b6573",
}
EDGE_ATTRS = {
    "fontname": "Helvetica",
    "fontsize": "9",
    "color": "#6b7480",
    "fontcolor": "#37414d",
    "arrowsize": "0.7",
    # Twice an edge from a copy or a reference (SIDE_EDGE): a step fed by the step before and
    # by a reference to a shared tensor stays under the step before, so a loop is drawn as
    # a straight column rather than drifting sideways by a box at each step.
    "weight": "2",
}
SIDE_EDGE = {"weight": "1"}
SPINE_EDGE = {"weight": "8"}
# A reference to a node drawn in full elsewhere: small, dashed, in the node's colour.
REFERENCE_STYLE = {"style": "rounded,filled,dashed", "fontsize": "9", "margin": "0.05,0.02"}
# A node feeding more nodes than this is drawn once per use (app/server/spread_uses.py): one
# node with edges into every step of a loop, spanning many ranks, is what makes `dot` super-linear.
SPLIT_FAN_OUT = 3
# Boxes (copies and references included) beyond which a drawing is placed by
# app/server/placement.py rather than by `dot`, whose time grows with their square
# (docs/performance.md).
DOT_MAX_BOXES = 5_000
# Copies and references are made only while the boxes stay within this many
# (app/server/spread_uses.py).
MAX_DRAWN_BOXES = 30_000
LEGEND_WIDTH = 200.0  # points: the legend's widest row
SHAPE_BOOKKEEPING = ("_sym_sizes", "_sym_strides")  # saved values not drawn (_saved_rows)


def build_dot(graph: GraphShape, viewed: ViewedGraph | None = None) -> str:
    """The DOT source: leaves on top, the root at the bottom, gradients on edges.

    `viewed`: the graph as a view shows it (app/server/views.py), module calls as clusters or
    boxes; by default the whole graph. Big drawings (over EDGE_LABEL_LIMIT nodes) are lighter:
    one-line node labels, no edge labels and no saved tensors, and when no cluster is drawn
    their boxes carry positions (app/server/placement.py) for when `dot` cannot lay them out in
    time; the JSON still has all of it.
    """
    viewed = viewed or apply_view(graph, GraphView())
    graph = viewed.shape
    big = len(graph.nodes) > EDGE_LABEL_LIMIT
    # Collapsed calls leave few boxes: a parameter feeding every step of a loop is drawn
    # once, with an edge into each step's box, as copies would fill the picture's width.
    split = SPLIT_FAN_OUT if big or not viewed.boxes else len(graph.edges) + 1
    spread = fit(graph, split, MAX_DRAWN_BOXES)
    out_of = _edges_out_of(spread.edges)
    in_cluster: dict[int | None, list[DrawnBox]] = {None: []}
    for node in spread.nodes:
        where = in_cluster.setdefault(viewed.cluster_of.get(node.id), [])
        box = viewed.boxes.get(node.id)
        if box is None:
            where.extend(_boxes(node, spread, big, out_of.get(node.id, [])))
        else:
            where.append((_name(node.id), _box_attrs(box, big)))
    edges = _drawn_edges(spread, big, shared_over=split if viewed.boxes else None)
    top = in_cluster[None]
    if graph.nodes:
        top.append(_legend(any(node.kind == "const" for node in graph.nodes)))
    _straighten_spine(edges)
    # Positions for `nop2` only when every box is at the top level: it draws no clusters.
    placed = big and not viewed.clusters
    if placed:
        _add_positions(top, edges)
    count = sum(len(boxes) for boxes in in_cluster.values())
    lines = [
        "digraph autograd {",
        f"\tgraph {_attrs(graph_attrs(big, count if placed else 0))}",
        f"\tnode {_attrs(NODE_ATTRS)}",
        f"\tedge {_attrs(EDGE_ATTRS)}",
    ]
    written = {
        gid: [f"\t{name} {_attrs(attrs)}" for name, attrs in boxes]
        for gid, boxes in in_cluster.items()
    }
    lines.extend(written.pop(None))
    lines.extend(_clusters(viewed, written))
    lines.extend(f"\t{source} -> {target} {_attrs(attrs)}" for source, target, attrs in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# A box or an edge as drawn: its DOT name(s) and attributes.
DrawnBox = tuple[str, dict[str, str]]
Edge = tuple[str, str, dict[str, str]]


def _drawn_edges(spread: SpreadGraph, big: bool, shared_over: int | None) -> list[Edge]:
    """Every edge drawn, each from the box (the node's own, a copy or a reference) that
    stands for its source in this use. With `shared_over`, the edges of a node drawn once
    for more uses than that carry no label: its share per use is in Details."""
    formulas = {} if big else edge_formulas(spread.nodes, spread.edges)
    uses = Counter(edge.source for edge in spread.edges)
    next_copy = dict.fromkeys([*spread.copies, *spread.references], 0)
    edges = []
    for edge in spread.edges:
        copy = 0
        if edge.source in spread.copies:
            copy = next_copy[edge.source]
            next_copy[edge.source] += 1
        elif edge.source in spread.references and edge is not spread.kept_use[edge.source]:
            next_copy[edge.source] += 1  # box 0 is the node's own
            copy = next_copy[edge.source]
        attrs = {"id": f"edge-{edge.source}-{edge.target}-{edge.input_nr}", "class": "grad-edge"}
        if copy or edge.source in spread.copies:
            attrs.update(SIDE_EDGE)
        if edge.cut:
            attrs.update(CUT_EDGE_STYLE, **{"class": "cut-edge"})
        bundle = spread.bundled.get((edge.source, edge.target))
        if not big and (shared_over is None or uses[edge.source] <= shared_over):
            formula = formulas.get((edge.source, edge.target, edge.input_nr))
            attrs["label"] = "cut: no grad" if edge.cut else _edge_label(edge, formula, bundle)
        edges.append((_name(edge.source, copy), _name(edge.target), attrs))
    return edges


def _straighten_spine(edges: list[Edge]) -> None:
    """The longest chain of edges (in a loop, the steps one after another) weighs SPINE_EDGE:
    `dot` draws it as one straight column and the rest beside it. Otherwise every step can
    sit half a box beside the one before at no cost to `dot`, and a long loop runs diagonally
    across a drawing many times wider than it needs to be."""
    into: dict[str, list[int]] = {}
    out_degree: dict[str, int] = {}
    for index, (source, target, _) in enumerate(edges):
        into.setdefault(target, []).append(index)
        out_degree[source] = out_degree.get(source, 0) + 1
        out_degree.setdefault(target, 0)
    # Longest path ending at each box, in topological order (Kahn's, sources first).
    waiting = {name: len(into.get(name, [])) for name in out_degree}
    ready = [name for name, count in waiting.items() if count == 0]
    consumers: dict[str, list[int]] = {}
    for index, (source, _, _) in enumerate(edges):
        consumers.setdefault(source, []).append(index)
    length = dict.fromkeys(out_degree, 0)
    via: dict[str, int] = {}
    while ready:
        name = ready.pop()
        for index in consumers.get(name, []):
            target = edges[index][1]
            if length[name] + 1 > length[target]:
                length[target], via[target] = length[name] + 1, index
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    if not via:
        return
    name = max(via, key=length.__getitem__)
    while name in via:
        edge = edges[via[name]]
        edge[2].update(SPINE_EDGE)
        name = edge[0]


def _add_positions(boxes: list[DrawnBox], edges: list[Edge]) -> None:
    """`pos` for every box, in points: what Graphviz's `nop2` draws (see graph_attrs)."""
    widths = {name: label_width(_text(attrs["label"])) for name, attrs in boxes}
    widths["legend"] = LEGEND_WIDTH
    positions = place(widths, ((source, target) for source, target, _ in edges))
    for name, attrs in boxes:
        x, y = positions[name]
        attrs["pos"] = f"{x:.0f},{y:.0f}"


def _text(label: str) -> str:
    """The text a one-line label shows."""
    return html.unescape(re.sub(r"<[^>]*>", "", label.removeprefix("<").removesuffix(">")))


def _boxes(
    node: NodeInfo,
    spread: SpreadGraph,
    big: bool,
    out: list[EdgeInfo],
) -> list[DrawnBox]:
    """The node's box, and its copies or references when it is drawn once per use. Every
    box's id starts `node-N` (`node-N-copyK` beyond the first), so the page treats each as
    the node (static/graph-view.js)."""
    base = {"class": f"node-{node.kind}", "fillcolor": COLOURS[node.kind]}
    if node.kind == "const":
        base.update(CUT_NODE_STYLE)
    count = spread.copies.get(node.id) or spread.references.get(node.id, 1)
    boxes = []
    for copy in range(count):
        use = (copy + 1, count, out) if count > 1 else None
        if copy and node.id in spread.references:
            label = _reference_label(node, copy + 1, count)
            attrs = {**base, **REFERENCE_STYLE, "class": f"{base['class']} node-reference"}
        else:
            label = _short_label(node, use) if big else _node_label(node, use)
            attrs = base
        element = f"node-{node.id}-copy{copy}" if copy else f"node-{node.id}"
        boxes.append((_name(node.id, copy), {"label": label, **attrs, "id": element}))
    return boxes


def _box_title(box: Box) -> str:
    """A collapsed call's title (GroupInfo.title), or a roll's: "cell (RNNCell) x12"."""
    if len(box.groups) > 1:
        first = box.groups[0]
        return f"{first.module} ({first.type}) \N{MULTIPLICATION SIGN}{len(box.groups)}"
    return box.groups[0].title


def _box_attrs(box: Box, big: bool) -> dict[str, str]:
    """A collapsed group or a roll: its title, its output's shape and gradient, and the
    gradients of the parameters inside."""
    rows = [_bold(_box_title(box))]
    rolled = box.groups
    if len(rolled) > 1:
        rows.append(html.escape(f"calls {rolled[0].call + 1} to {rolled[-1].call + 1}, rolled"))
    output = box.output
    if output is not None and not big:
        if output.shape is not None:
            rows.append(html.escape(f"out {shape_text(output.shape)} {output.dtype or ''}"))
        rows.append(html.escape(f"{output.grad_name} = {output.grad_text}"))
    if not big:
        prefix = rolled[0].module + "."
        for leaf in box.parameters[:MAX_BOX_PARAMETERS]:
            name = (leaf.variables or ["parameter"])[0].removeprefix(prefix)
            rows.append(html.escape(f"{name}: grad {_edge_text(leaf.grad)}"))
        if len(box.parameters) > MAX_BOX_PARAMETERS:
            rows.append(html.escape(f"and {len(box.parameters) - MAX_BOX_PARAMETERS} more"))
        action = "unroll" if len(rolled) > 1 else "expand"
        inside = "1 node" if box.hidden == 1 else f"{box.hidden:,} nodes"
        rows.append(html.escape(f"{inside} inside: click to {action}"))
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return {
        "label": f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>',
        "class": "node-group node-rolled" if len(rolled) > 1 else "node-group",
        "fillcolor": COLOURS["group"],
        "id": box.element,
        "penwidth": "1.6",
    }


def _clusters(viewed: ViewedGraph, in_cluster: dict[int | None, list[str]]) -> list[str]:
    """The expanded groups as nested clusters around their nodes."""
    children: dict[int | None, list[int]] = {}
    for gid, group in sorted(viewed.clusters.items()):
        children.setdefault(group.parent, []).append(gid)

    def emit(gid: int, indent: str) -> list[str]:
        group = viewed.clusters[gid]
        attrs = {
            **CLUSTER_ATTRS,
            "id": f"group-{gid}",
            "class": "group-cluster",
            "label": f"<{_bold(group.title)}>",
        }
        out = [f"{indent}subgraph cluster_g{gid} {{", f"{indent}\tgraph {_attrs(attrs)}"]
        out.extend(indent + line for line in in_cluster.get(gid, []))
        for child in children.get(gid, []):
            out.extend(emit(child, indent + "\t"))
        out.append(f"{indent}}}")
        return out

    return [line for gid in children.get(None, []) for line in emit(gid, "\t")]


def _edge_label(edge: EdgeInfo, formula: str | None, bundle: int | None = None) -> str:
    """The gradient the edge carries back and, between scalars, the local derivative it was
    multiplied by on the way (times 6 = 2x): the chain rule's factor, where the learner looks.
    `bundle`: how many parallel edges this one stands for."""
    grad = f"grad {_edge_text(edge.grad)}"
    if bundle:
        grad = f"{bundle:,} edges, the first: {grad}"
    if edge.local is None:
        return grad
    factor = f"\N{MULTIPLICATION SIGN} {format_number(edge.local + 0.0)}"  # + 0.0: no "-0"
    # A formula naming an unnamed value by its internal id ("1/clamp#5") is left to Details.
    if formula and "#" not in formula and formula != format_number(edge.local + 0.0):
        factor += f" = {formula}"
    return f"<{html.escape(factor)}<BR/>{html.escape(grad)}>"


def _edges_out_of(edges: list[EdgeInfo]) -> dict[int, list[EdgeInfo]]:
    out: dict[int, list[EdgeInfo]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge)
    return out


def _name(node_id: int, copy: int = 0) -> str:
    return f"n{node_id}c{copy}" if copy else f"n{node_id}"


def _attrs(attrs: dict[str, str]) -> str:
    """A DOT attribute list; HTML-like labels (`<...>`) are already escaped by us."""
    items = []
    for key, value in attrs.items():
        is_html = key == "label" and value.startswith("<") and value.endswith(">")
        items.append(f"{key}={value if is_html else _quote(value)}")
    return "[" + " ".join(items) + "]"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _saved_rows(node: NodeInfo) -> list[str]:
    """What the node saved for backward, one escaped line per tensor or value. The sizes and
    strides autograd keeps to reshape gradients are left to the Details panel and the JSON:
    the node's shape line says as much, and they would be a large share of the rows."""
    return [
        html.escape(f"{name} = {format_tensor(value)}")
        for name, value in node.saved.items()
        if isinstance(value, int | float | list | dict)
        and not isinstance(value, bool)
        and not name.endswith(SHAPE_BOOKKEEPING)
    ]


def _bold(text: str) -> str:
    """Escaped bold text, padded for Graphviz: it sizes text with regular-weight Helvetica
    metrics (see app/worker/graphviz.py), and bold runs about 0.04 em per character wider, a
    sixth of a space, so that much trailing space keeps the text inside its box."""
    return f"<B>{html.escape(text)}{' ' * (len(text) // 6 + 1)}</B>"


# A node drawn once per use: (this copy's use, number of uses, the edges out of the leaf).
Use = tuple[int, int, list[EdgeInfo]]


def _title(node: NodeInfo, use: Use | None = None) -> str:
    """The node's title (NodeInfo.title), and which use a copy stands for. One bold run: a
    regular run after a bold one would start where Graphviz thinks the bold text ends, over
    its last letters."""
    return _bold(f"{node.title} (use {use[0]} of {use[1]})" if use else node.title)


def _reference_label(node: NodeInfo, use: int, count: int) -> str:
    """One line naming the node drawn elsewhere in full, and which of its uses this is:
    "= Wt: TBackward0 (use 2 of 100)"."""
    name = node.variables[0] if node.variables else f"#{node.id}"
    return _html(f"= {name}: {node.op} (use {use} of {count})")


def _short_label(node: NodeInfo, use: Use | None = None) -> str:
    return f"<{_title(node, use)}>"


def _grad_row(node: NodeInfo, use: Use | None) -> str:
    """ "dz/dx = -5.4668"; on each copy of a leaf drawn once per use, the uses' shares adding
    up to it ("10 + 8 + 3 + 4 = 25") when they are single numbers."""
    total = node.grad_text
    if use:
        shares = [edge.grad for edge in use[2]]
        if all(isinstance(share, int | float) and not isinstance(share, bool) for share in shares):
            total = " + ".join(format_number(float(share)) for share in shares) + f" = {total}"
    return f"{node.grad_name} = {total}"


def _node_label(node: NodeInfo, use: Use | None = None) -> str:
    """A table: title, shape, value and gradient, then what was saved for backward in a
    coloured cell of its own. Inside the node rather than a note beside it: a note is a node
    and an edge more for `dot` to place, a sizeable share of a small graph's layout."""
    saved = _saved_rows(node)
    rows = [_title(node, use)]
    if node.shape is not None:
        rows.append(html.escape(f"{node.shape_text} {node.dtype or ''}".strip()))
    if node.value is not None:
        rows.append(html.escape(f"value {node.value_text}"))
    if node.kind != "const":
        rows.append(html.escape(_grad_row(node, use)))
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    if saved:
        lines = "<BR/>".join(saved)
        cells += (
            f'<TR><TD BGCOLOR="{COLOURS["saved"]}" ALIGN="LEFT" BALIGN="LEFT">'
            f'<FONT POINT-SIZE="9">{lines}</FONT></TD></TR>'
        )
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _html(text: str) -> str:
    return f"<{html.escape(text)}>"


def _legend(with_constants: bool) -> DrawnBox:
    """The legend as one node holding a table: a cluster of four nodes cost `dot` more than
    laying out a whole seed-sized graph."""
    rows = "".join(
        f'<TR><TD BGCOLOR="{COLOURS[kind]}" BORDER="1" COLOR="#5b6573">  </TD>'
        f'<TD ALIGN="LEFT">{html.escape(text)}</TD></TR>'
        for kind, text in ((*LEGEND, CONST_LEGEND) if with_constants else LEGEND)
    )
    title = f'<TR><TD COLSPAN="2">{_bold("Legend")}</TD></TR>'
    table = f'<<TABLE BORDER="0" CELLSPACING="3">{title}{rows}</TABLE>>'
    attrs = {
        "label": table,
        "id": "legend",
        "class": "legend",
        "shape": "box",
        "style": "rounded",
        "color": "#c5cad1",
        "fontsize": "9",
    }
    return ("legend", attrs)
