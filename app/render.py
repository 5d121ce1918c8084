"""Stage 4: build Graphviz DOT from the captured graph and render it to SVG.

Labels hold only text we format ourselves (HTML-escaped); no URL or href attribute is ever
built, from user data or otherwise. Node and edge ids and classes come through into the SVG
so the page can find them. Layout runs in a subprocess with a time limit.
"""

import html
import subprocess
from dataclasses import dataclass
from typing import Any

import graphviz

from app.schemas import GraphData, NodeInfo

COLOURS = {
    "leaf": "#cfe6fb",
    "op": "#eef0f3",
    "root": "#c9efc4",
    "saved": "#fde3c3",
    "const": "#f2f2f2",
}
LEGEND = (
    ("leaf", "leaf tensor (requires_grad)"),
    ("op", "operation: its backward node"),
    ("root", "root: where backward starts"),
    ("saved", "saved for backward"),
)
CONST_LEGEND = ("const", "constant cut from the graph: no gradient")
CUT_COLOUR = "#9aa1ab"
LEGEND_STYLES = {"saved": "filled", "const": "rounded,filled,dashed"}
EDGE_LABEL_LIMIT = 150  # beyond this many nodes, gradient labels on edges only add clutter


def format_number(value: Any) -> str:
    """Numbers as PyTorch prints them: 4 decimals (-5.4668), scientific when tiny or huge."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value == 0 or (1e-4 <= abs(value) < 1e5):
        text = f"{value:.4f}"
        return text.rstrip("0").rstrip(".") if float(text) == int(value) else text
    return f"{value:.4e}"


def format_tensor(value: Any, limit: int = 4) -> str:
    """A short text for a tensor's JSON form: a number, a few items, or a summary."""
    if isinstance(value, list):
        flat = _flatten(value, limit + 1)
        items = ", ".join(format_number(item) for item in flat[:limit])
        return f"[{items}{', …' if len(flat) > limit else ''}]"
    if isinstance(value, dict) and "shape" in value:
        return (
            f"min {format_number(value['min'])}, max {format_number(value['max'])}, "
            f"mean {format_number(value['mean'])}"
        )
    if value is None:
        return "—"
    return format_number(value)


def _flatten(value: Any, limit: int) -> list[Any]:
    out: list[Any] = []
    stack = [value]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def build_dot(graph: GraphData) -> str:
    """The DOT source: leaves on top, the root at the bottom, gradients on edges."""
    dot = graphviz.Digraph("autograd", engine="dot")
    dot.attr(
        rankdir="TB", bgcolor="transparent", fontname="DejaVu Sans", nodesep="0.3", ranksep="0.45"
    )
    dot.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname="DejaVu Sans",
        fontsize="11",
        penwidth="1.2",
        color="#5b6573",
    )
    dot.attr(
        "edge",
        fontname="DejaVu Sans",
        fontsize="9",
        color="#6b7480",
        fontcolor="#37414d",
        arrowsize="0.7",
    )
    labelled_edges = len(graph.nodes) <= EDGE_LABEL_LIMIT
    for node in graph.nodes:
        dot.node(
            f"n{node.id}",
            label=_node_label(node),
            id=f"node-{node.id}",
            **{"class": f"node-{node.kind}", "fillcolor": COLOURS[node.kind]},
            **_CUT_NODE_STYLE if node.kind == "const" else {},
        )
        for index, (name, value) in enumerate(node.saved.items()):
            if isinstance(value, int | float | list | dict) and not isinstance(value, bool):
                saved_id = f"n{node.id}s{index}"
                dot.node(
                    saved_id,
                    label=_html(f"{name} = {format_tensor(value)}"),
                    id=f"saved-{node.id}-{index}",
                    shape="note",
                    fontsize="9",
                    fillcolor=COLOURS["saved"],
                    style="filled",
                    **{"class": "node-saved"},
                )
                dot.edge(
                    saved_id,
                    f"n{node.id}",
                    style="dashed",
                    arrowhead="none",
                    color="#c98a3a",
                    id=f"savededge-{node.id}-{index}",
                )
    for edge in graph.edges:
        label = f"grad {format_tensor(edge.grad, 2)}" if labelled_edges else ""
        if edge.cut:
            label = "cut: no grad" if labelled_edges else ""
        dot.edge(
            f"n{edge.source}",
            f"n{edge.target}",
            label=label,
            id=f"edge-{edge.source}-{edge.target}-{edge.input_nr}",
            **({"class": "cut-edge", **_CUT_STYLE} if edge.cut else {"class": "grad-edge"}),
        )
    if graph.nodes:
        _legend(dot, any(node.kind == "const" for node in graph.nodes))
    source: str = dot.source
    return source


def _node_label(node: NodeInfo) -> str:
    title = ", ".join(node.variables) if node.variables else ""
    rows = []
    if node.kind == "leaf":
        rows.append(f"<B>{html.escape(title or 'leaf')}</B>")
    elif node.kind == "const":
        rows.append(f"<B>{html.escape(title or 'constant')}</B> (cut, no grad)")
    else:
        op = html.escape(node.op)
        rows.append(f"<B>{op}</B>" + (f" → {html.escape(title)}" if title else ""))
    if node.shape is not None:
        shape = "scalar" if node.shape == [] else "×".join(map(str, node.shape))  # noqa: RUF001
        rows.append(html.escape(f"{shape} {node.dtype or ''}".strip()))
    if node.value is not None:
        rows.append(html.escape(f"value {format_tensor(node.value)}"))
    if node.kind != "const":
        rows.append(html.escape(f"grad {format_tensor(node.grad)}"))
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _html(text: str) -> str:
    return f"<{html.escape(text)}>"


# A cut is drawn dashed and greyed: the tensor is used, but no gradient flows back into it.
_CUT_STYLE = {"style": "dashed", "color": CUT_COLOUR, "fontcolor": CUT_COLOUR}
_CUT_NODE_STYLE = {**_CUT_STYLE, "style": "rounded,filled,dashed"}


def _legend(dot: graphviz.Digraph, with_constants: bool) -> None:
    with dot.subgraph(name="cluster_legend") as legend:
        legend.attr(label="Legend", fontsize="10", color="#c5cad1", style="rounded", id="legend")
        previous = None
        for kind, text in (*LEGEND, CONST_LEGEND) if with_constants else LEGEND:
            name = f"legend_{kind}"
            shape = "note" if kind == "saved" else "box"
            style = LEGEND_STYLES.get(kind, "rounded,filled")
            legend.node(
                name,
                label=text,
                fillcolor=COLOURS[kind],
                shape=shape,
                style=style,
                fontsize="9",
                id=f"legend-{kind}",
                **{"class": "legend"},
            )
            if previous:
                legend.edge(previous, name, style="invis")
            previous = name


@dataclass(frozen=True)
class Rendered:
    svg: str | None
    warning: str | None = None


def render_svg(dot_source: str, timeout_s: float) -> Rendered:
    """Lay out with `dot` under a time limit; a layout that runs out of time gives no SVG."""
    try:
        completed = subprocess.run(
            ["dot", "-Tsvg"],  # noqa: S607 - found on PATH like any Graphviz install
            input=dot_source.encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Rendered(
            None,
            f"Graphviz needed more than {timeout_s:g} s to lay out this "
            "graph; the JSON still has every node and gradient.",
        )
    except FileNotFoundError:
        return Rendered(None, "Graphviz 'dot' is not installed on the server.")
    if completed.returncode != 0:
        message = completed.stderr.decode(errors="replace").strip().splitlines()
        return Rendered(
            None,
            "Graphviz could not draw this graph: "
            + (message[0] if message else f"exit code {completed.returncode}"),
        )
    svg = completed.stdout.decode()
    return Rendered(svg[svg.index("<svg") :] if "<svg" in svg else svg)
