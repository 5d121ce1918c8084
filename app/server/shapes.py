"""Graphs the server drew lately, kept so that other views of them are drawn without running
the program again (POST /api/graph/view), and the drawings of those views.

Shapes are kept apart from drawings: one graph has many views. Both are bounded LRUs, the
shapes by count and by their items together (nodes, edges, groups and every number their
values, gradients and saved tensors hold: what a kept graph costs the server's memory), the
drawings by count and bytes (app.server.cache.ResponseCache). A shape is keyed by its
request's program and output, a token only this server can make (app.server.cache).
"""

from collections import OrderedDict
from typing import Any

from app.contract.schemas import EdgeInfo, GraphShape, GraphView, NodeInfo
from app.server.cache import ResponseCache


class ShapeStore:
    def __init__(self, max_entries: int, max_items: int, drawings: ResponseCache) -> None:
        self.max_entries = max_entries
        self.max_items = max_items  # items (`items`) over every kept shape
        # Each kept shape and its items, counted once: counting walks every number it holds.
        self.entries: OrderedDict[str, tuple[GraphShape, int]] = OrderedDict()
        self.items = 0
        self.drawings = drawings

    def get(self, token: str) -> GraphShape | None:
        kept = self.entries.get(token)
        if kept is None:
            return None
        self.entries.move_to_end(token)
        return kept[0]

    def put(self, token: str, shape: GraphShape) -> int:
        """Keep `shape`, if it fits; returns its items, counted once for every use."""
        size = _size(shape)
        if size > self.max_items or self.max_entries == 0:
            return size
        if token in self.entries:
            self.items -= self.entries.pop(token)[1]
        self.entries[token] = (shape, size)
        self.items += size
        while len(self.entries) > self.max_entries or self.items > self.max_items:
            _, (_, evicted) = self.entries.popitem(last=False)
            self.items -= evicted
        return size

    def drawing(self, token: str, view: GraphView) -> bytes | None:
        return self.drawings.get(_drawing_key(token, view))

    def keep_drawing(self, token: str, view: GraphView, body: bytes) -> None:
        self.drawings.put(_drawing_key(token, view), body)


def _size(shape: GraphShape) -> int:
    return items(shape.nodes, shape.edges) + len(shape.groups)


def items(nodes: list[NodeInfo], edges: list[EdgeInfo]) -> int:
    """Nodes and edges, and the numbers they hold: a node of 100-element tensors holds a few
    hundred Python floats, the memory a kept graph takes."""
    held = len(nodes) + len(edges)
    for node in nodes:
        held += _numbers(node.value) + _numbers(node.grad)
        held += sum(_numbers(value) for value in node.saved.values())
    return held + sum(_numbers(edge.grad) for edge in edges)


def _numbers(value: Any) -> int:
    """Numbers in a tensor's JSON form: a nested list's items (a row of numbers counted by
    its length: a tensor's rows are all alike), 1 for a number or a summary."""
    if not isinstance(value, list):
        return 1
    if not value or not isinstance(value[0], list):
        return len(value)
    return sum(_numbers(item) for item in value)


def _drawing_key(token: str, view: GraphView) -> str:
    """The view as sets: the same groups listed in another order draw the same."""
    return f"{token}:{sorted(set(view.collapsed))}:{sorted(set(view.rolled))}"
