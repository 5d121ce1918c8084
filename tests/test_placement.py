"""The layered placement of drawings too big for `dot`: inputs above what they feed, no two
boxes of a rank overlapping, a loop's spine straight, in time linear in the graph."""

import itertools
import time

from app.server.placement import BOX_GAP, RANK_STEP, place


def test_every_box_is_placed_above_what_it_feeds_without_overlaps() -> None:
    # a chain 0 <- 1 <- ... <- 9 with a side input s_i into each step and one input x into 5
    widths = {f"c{i}": 80.0 for i in range(10)} | {f"s{i}": 120.0 for i in range(10)}
    widths["x"] = 40.0
    edges = [(f"c{i + 1}", f"c{i}") for i in range(9)] + [(f"s{i}", f"c{i}") for i in range(10)]
    edges.append(("x", "c5"))
    positions = place(widths, edges)
    assert set(positions) == set(widths)
    for source, target in edges:
        assert positions[source][1] >= positions[target][1] + RANK_STEP
    by_rank: dict[float, list[str]] = {}
    for name, (_, y) in positions.items():
        by_rank.setdefault(y, []).append(name)
    for names in by_rank.values():
        spans = sorted(
            (positions[n][0] - widths[n] / 2, positions[n][0] + widths[n] / 2) for n in names
        )
        for (_, right), (left, _) in itertools.pairwise(spans):
            assert left - right >= BOX_GAP - 1e-6
    assert len({positions[f"c{i}"][0] for i in range(10)}) == 1  # the spine is straight


def test_a_cycle_and_loose_boxes_are_still_placed() -> None:
    positions = place({"a": 10.0, "b": 10.0, "alone": 10.0}, [("a", "b"), ("b", "a")])
    assert set(positions) == {"a", "b", "alone"}


def test_twenty_thousand_boxes_are_placed_in_well_under_a_second_of_cpu() -> None:
    steps = 10_000
    widths = {f"c{i}": 100.0 for i in range(steps)} | {f"r{i}": 60.0 for i in range(steps)}
    edges = [(f"c{i + 1}", f"c{i}") for i in range(steps - 1)]
    edges += [(f"r{i}", f"c{i}") for i in range(steps)]
    start = time.process_time()
    place(widths, edges)
    assert time.process_time() - start < 2.0
