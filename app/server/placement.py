"""Positions for a big drawing: a layered layout in time linear in its boxes and edges.

`dot`'s network simplex (the ranking and x placement) grows with the square of the boxes in
the Graphviz the server has (docs/performance.md has the figures). Beyond what `dot` can do
in time, the boxes are placed here and Graphviz only draws them
(its `nop2` layout: positions as given, straight edges). The picture keeps `dot`'s shape:
inputs above what they feed, the root at the bottom, each box near the boxes it feeds.
"""

from collections.abc import Callable, Iterable

RANK_STEP = 64.0  # points between ranks: a one-line box (36) and `dot`'s ranksep (0.45 in)
BOX_GAP = 22.0  # points between neighbouring boxes of a rank: `dot`'s nodesep (0.3 in)
CHAR_WIDTH = 7.0  # points per character of an 11 pt bold Helvetica title, rounded up
BOX_PADDING = 18.0  # points of margin either side of a label


def label_width(text: str) -> float:
    """A box's width in points, from the characters of its one-line label."""
    return len(text) * CHAR_WIDTH + BOX_PADDING


def place(
    widths: dict[str, float], edges: Iterable[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """Centres (x, y in points, y up) of the boxes `widths` names, joined by `edges` (source,
    target): a target lies below its sources, and boxes of a rank keep the order of `widths`
    where they want the same place. Boxes on a cycle (none in an autograd graph)
    are placed as if their edges back were not there."""
    consumers: dict[str, list[str]] = {name: [] for name in widths}
    inputs: dict[str, list[str]] = {name: [] for name in widths}
    for source, target in edges:
        if source in widths and target in widths:
            consumers[source].append(target)
            inputs[target].append(source)
    rank = _ranks(consumers, inputs)
    rows: dict[int, list[str]] = {}
    for name in widths:  # in the order given: app/server/render.py's is the walk's, from the root
        rows.setdefault(rank[name], []).append(name)
    x: dict[str, float] = {}

    def degree(name: str) -> int:
        return len(consumers[name]) + len(inputs[name])

    # From the root up, each box over the mean of what it feeds: one pass, as every box it
    # feeds is on a rank below it.
    for level in sorted(rows):
        _place_row(rows[level], widths, x, consumers.__getitem__, degree)
    return {name: (x[name], rank[name] * RANK_STEP) for name in widths}


def _ranks(consumers: dict[str, list[str]], inputs: dict[str, list[str]]) -> dict[str, int]:
    """Each box's longest path to a box that feeds nothing (the root): one rank above the
    highest box it feeds, so an input sits just above its first use."""
    waiting = {name: len(out) for name, out in consumers.items()}
    ready = [name for name, count in waiting.items() if count == 0]
    rank = dict.fromkeys(ready, 0)
    while ready:
        name = ready.pop()
        for source in inputs[name]:
            rank[source] = max(rank.get(source, 0), rank[name] + 1)
            waiting[source] -= 1
            if waiting[source] == 0:
                ready.append(source)
    for name in consumers:  # on a cycle: above what it feeds that was ranked
        rank.setdefault(name, 1 + max((rank.get(c, 0) for c in consumers[name]), default=0))
    return rank


def _place_row(
    row: list[str],
    widths: dict[str, float],
    x: dict[str, float],
    neighbours: Callable[[str], list[str]],
    degree: Callable[[str], int],
) -> None:
    """Each box of `row` at the mean x of its placed neighbours (or after the box before it),
    kept in that order, pushed right only as far as needed not to overlap, then the row
    shifted so that its best-connected box (in a loop, the step itself rather than a side
    input) is exactly where it wanted to be: the spine of the graph stays straight."""
    wanted: dict[str, float] = {}
    previous = 0.0
    for name in row:
        placed = [x[other] for other in neighbours(name) if other in x]
        previous = sum(placed) / len(placed) if placed else previous + widths[name]
        wanted[name] = previous
    ordered = sorted(row, key=wanted.__getitem__)  # stable: ties keep the order given
    right = -float("inf")
    for name in ordered:
        half = widths[name] / 2
        x[name] = max(wanted[name], right + BOX_GAP + half)
        right = x[name] + half
    anchor = max(row, key=degree)
    shift = wanted[anchor] - x[anchor]
    for name in ordered:
        x[name] += shift
