"""Layout helpers: SVG with ids, the fallback engine, and no answer past the time limit."""

from pathlib import Path
from xml.etree import ElementTree

from app.server.layout import LayoutService
from app.server.render import SPLIT_FAN_OUT, build_dot
from tests.graphs import shared_weight_chain
from tests.loops import on_a_loop

# Deep enough that no engine finishes in half a millisecond.
DOT = build_dot(shared_weight_chain(140))  # small enough to carry no positions


def test_svg_keeps_node_ids(layout: LayoutService) -> None:
    rendered = on_a_loop(
        layout.render(build_dot(shared_weight_chain(SPLIT_FAN_OUT + 1)), timeout_s=30)
    )
    assert rendered.warning is None
    assert rendered.svg is not None
    assert rendered.svg.startswith("<svg")
    ids = {element.get("id") for element in ElementTree.fromstring(rendered.svg).iter()}
    assert {"node-0", "edge-1-0-0", f"node-{SPLIT_FAN_OUT + 2}-copy1", "legend"} <= ids


def test_tiny_time_limit_gives_no_svg_and_says_why(layout: LayoutService) -> None:
    rendered = on_a_loop(layout.render(DOT, timeout_s=0.0005))
    assert rendered.svg is None
    assert rendered.warning is not None
    assert "needed more than" in rendered.warning
    # the helper that ran out of time was replaced: the next drawing works
    assert on_a_loop(layout.render(DOT, timeout_s=30)).svg is not None


def test_fallback_engine_draws_when_the_first_runs_out_of_time() -> None:
    service = LayoutService(helpers=1, memory_mb=1_024, engines=(("dot", 1e-5), ("sfdp", 1.0)))
    service.processes.start()
    try:
        rendered = on_a_loop(service.render(DOT, timeout_s=30))
    finally:
        service.processes.stop()
    assert rendered.svg is not None
    assert rendered.warning is not None
    assert "quicker, plainer" in rendered.warning


def test_unreadable_dot_is_reported(layout: LayoutService) -> None:
    rendered = on_a_loop(layout.render("digraph { a -> }", timeout_s=30))
    assert rendered.svg is None
    assert rendered.warning is not None
    assert "could not" in rendered.warning


def test_helpers_size_text_without_pango(layout: LayoutService) -> None:
    """Text is measured with Graphviz's built-in metrics: pango (and the server's fonts) are
    never loaded, so a layout costs half as much and is the same on every server."""
    assert on_a_loop(layout.render(DOT, timeout_s=30)).svg is not None
    zygote = layout.processes.zygote
    assert zygote is not None
    assert zygote.pid is not None
    children = Path(f"/proc/{zygote.pid}/task/{zygote.pid}/children").read_text().split()
    assert children  # helpers forked ahead of time
    mapped = []
    for pid in [zygote.pid, *map(int, children)]:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        if not maps:
            continue  # the helper that just drew has ended
        mapped.append(pid)
        assert "libgvplugin_core" in maps
        assert "pango" not in maps
        assert "libtorch" not in maps  # a layout process holds libgvc alone
    assert len(mapped) >= 2


def test_text_names_the_served_metric_twin(layout: LayoutService) -> None:
    """Graphviz sized the text for Helvetica; the drawing asks for Liberation Sans, which the
    page serves, then the other names of the same metrics."""
    svg = on_a_loop(layout.render(build_dot(shared_weight_chain(2)), timeout_s=30)).svg
    assert svg is not None
    namespace = "{http://www.w3.org/2000/svg}"
    families = {
        text.get("font-family") for text in ElementTree.fromstring(svg).iter(f"{namespace}text")
    }
    assert families == {"'Liberation Sans',Arimo,Helvetica,Arial,sans-serif"}


def test_a_drawing_larger_than_an_answer_may_carry_is_not_sent(layout: LayoutService) -> None:
    """The job holds its graph and values to max_answer_bytes; the SVG beside them, which
    the server adds, is held to it too: a short loop can draw megabytes."""
    whole = on_a_loop(layout.render(DOT, timeout_s=30)).svg  # no limit: the SVG is larger
    assert whole is not None
    limit = len(whole) - 1
    service = LayoutService(helpers=1, memory_mb=1_024, max_svg_bytes=limit)
    service.processes.start()
    try:
        large = on_a_loop(service.render(DOT, timeout_s=30))
        small = on_a_loop(service.render(build_dot(shared_weight_chain(2)), timeout_s=30))
    finally:
        service.processes.stop()
    assert large.svg is None
    assert large.warning is not None
    assert "more than an answer may carry" in large.warning
    assert small.svg is not None
