"""A tensor that is not a leaf, used at every step of a loop (`Wt = W.t()`), is drawn once in
full and once as a small reference per other use: every reference is the node for the page
(Details, selection, Find), and a long loop is drawn whole, readable where the view opens."""

from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect

from bench.programs import shared_transpose
from tests.browser.editor import set_code
from tests.browser.pages import graph_node, open_page

VIEW: ViewportSize = {"width": 1366, "height": 768}


def run(page: Page, code: str) -> None:
    set_code(page, code)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Done")


def test_references_to_a_shared_operation_are_that_node(
    page: Page, live_server: str, artifacts: Path
) -> None:
    open_page(page, live_server, VIEW)
    run(page, shared_transpose(10))
    boxes = page.locator("#graph g.node[data-node-id]", has_text="Wt")
    expect(boxes).to_have_count(10)  # its own box and nine references
    expect(graph_node(page, "TBackward0 → Wt (use 1 of 10)")).to_be_visible()
    panel = page.get_by_role("region", name="Details")
    graph_node(page, "= Wt: TBackward0 (use 7 of 10)").click()
    expect(panel.get_by_role("heading", name="Wt")).to_be_visible()
    expect(page.locator("#graph g.node.selected")).to_have_count(10)
    page.get_by_role("searchbox", name="Find").fill("Wt")
    expect(page.locator("#search-status")).to_have_text("10 found")
    page.screenshot(path=str(artifacts / "shared-transpose-10-1366.png"))


def test_a_thousand_step_loop_is_drawn_whole(page: Page, live_server: str, artifacts: Path) -> None:
    open_page(page, live_server, VIEW)
    run(page, shared_transpose(1_000))
    expect(page.locator("#graph #elided")).to_have_count(0)
    expect(page.locator("#graph g.node[data-node-id]")).to_have_count(3_003 + 999)
    expect(page.locator("#graph g.node-reference")).to_have_count(999)
    expect(graph_node(page, "W").first).to_be_in_viewport()  # the view opens on the top
    # at the pane's top and whole across: the crop is the drawing's, not inflated by its text
    pane = page.locator("#graph").bounding_box()
    top = graph_node(page, "W").first.bounding_box()
    spine = graph_node(page, "TBackward0 \N{RIGHTWARDS ARROW} Wt").first.bounding_box()
    assert pane is not None
    assert top is not None
    assert spine is not None
    assert top["y"] - pane["y"] < 60, (pane, top)
    assert pane["x"] <= spine["x"]
    assert spine["x"] + spine["width"] <= pane["x"] + pane["width"]
    page.screenshot(path=str(artifacts / "shared-transpose-1000-1366.png"))
