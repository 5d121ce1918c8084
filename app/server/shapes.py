"""Graphs the server drew lately, kept so that other views of them are drawn without running
the program again (POST /api/graph/view), and the drawings of those views.

Shapes are kept apart from drawings: one graph has many views. Both are bounded LRUs, the
shapes by count and by their nodes and edges together, the drawings by count and bytes
(app.server.cache.ResponseCache). A shape is keyed by its request's program and output, a hash
that tells nothing of the program to whoever does not have it.
"""

from collections import OrderedDict

from app.contract.schemas import GraphShape, GraphView
from app.server.cache import ResponseCache


class ShapeStore:
    def __init__(self, max_entries: int, max_items: int, drawings: ResponseCache) -> None:
        self.max_entries = max_entries
        self.max_items = max_items  # nodes and edges over every kept shape
        self.entries: OrderedDict[str, GraphShape] = OrderedDict()
        self.items = 0
        self.drawings = drawings

    def get(self, token: str) -> GraphShape | None:
        shape = self.entries.get(token)
        if shape is not None:
            self.entries.move_to_end(token)
        return shape

    def put(self, token: str, shape: GraphShape) -> None:
        size = _size(shape)
        if size > self.max_items or self.max_entries == 0:
            return
        if token in self.entries:
            self.items -= _size(self.entries.pop(token))
        self.entries[token] = shape
        self.items += size
        while len(self.entries) > self.max_entries or self.items > self.max_items:
            _, evicted = self.entries.popitem(last=False)
            self.items -= _size(evicted)

    def drawing(self, token: str, view: GraphView) -> bytes | None:
        return self.drawings.get(_drawing_key(token, view))

    def keep_drawing(self, token: str, view: GraphView, body: bytes) -> None:
        self.drawings.put(_drawing_key(token, view), body)


def _size(shape: GraphShape) -> int:
    return len(shape.nodes) + len(shape.edges) + len(shape.groups)


def _drawing_key(token: str, view: GraphView) -> str:
    """The view as sets: the same groups listed in another order draw the same."""
    return f"{token}:{sorted(set(view.collapsed))}:{sorted(set(view.rolled))}"
