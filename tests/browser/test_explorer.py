"""The explorer page end to end: examples, Details, path highlight, search, errors, export,
permalink, dark mode and accessibility, at 1024 px and on a wide screen."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, ViewportSize, expect

from tests.browser.editor import set_code
from tests.browser.pages import (
    CHAIN_RULE_TITLE,
    CLASSIFIER_TITLE,
    NARROW,
    WIDE,
    assert_drawn_in_served_font,
    editor_text,
    graph_node,
    misplaced_node_text,
    open_page,
    pick,
    pick_and_run,
    serious_axe_violations,
)
from tests.examples import EXAMPLE_LIST, EXAMPLES


def details(page: Page) -> Locator:
    return page.get_by_role("region", name="Details")


@pytest.mark.usefixtures("axe")
def test_chain_rule_explained_at_1024(page: Page, live_server: str, artifacts: Path) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, CHAIN_RULE_TITLE)
    x_node = graph_node(page, "x scalar")
    expect(x_node).to_contain_text("-5.4668")
    x_node.click()
    panel = details(page)
    expect(panel.get_by_role("heading", name="x")).to_be_visible()
    expect(panel).to_contain_text("AccumulateGrad")
    expect(panel).to_contain_text("-5.4668")
    # The chain rule where the learner looks: the local factor on the edge, the product in
    # Details, the whole rule beside it.
    expect(page.locator("#graph g.edge", has_text="× 6 = 2x")).to_contain_text("grad -5.4668")  # noqa: RUF001 - the times sign
    expect(panel).to_contain_text("from PowBackward0 → y: -5.4668 = -0.9111 × 6")  # noqa: RUF001 - the times sign
    expect(panel).to_contain_text("dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668")
    # The path from x to the root lights up: x, then y's PowBackward0, then the root.
    expect(x_node).to_have_class(re.compile(r"\bselected\b"))
    for name in ("PowBackward0 → y", "SinBackward0 → z"):
        expect(graph_node(page, name)).to_have_class(re.compile(r"\bon-path\b"))
    expect(page.locator("#graph .edge.on-path")).to_have_count(2)
    page.screenshot(path=str(artifacts / "chain-rule-x-details-1024.png"), full_page=True)
    assert serious_axe_violations(page) == []

    panel.get_by_role("link", name="PowBackward0 → y").click()
    expect(panel.get_by_role("heading", name="PowBackward0 → y")).to_be_focused()
    expect(panel).to_contain_text("self = 3")
    expect(panel).to_contain_text("exponent = 2")
    expect(panel).to_contain_text("-0.9111")
    expect(graph_node(page, "x scalar")).not_to_have_class(re.compile(r"\bon-path\b"))
    page.screenshot(path=str(artifacts / "chain-rule-pow-details-1024.png"), full_page=True)


def test_keyboard_runs_and_selects(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    page.get_by_label("Code").focus()
    page.keyboard.press("ControlOrMeta+Enter")
    x_node = graph_node(page, "x scalar")
    x_node.focus()
    page.keyboard.press("Enter")
    expect(details(page).get_by_role("heading", name="x")).to_be_visible()
    page.get_by_label("Code").focus()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_focused()


def test_busy_state_while_running(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)

    def slow(route: Route) -> None:
        page.wait_for_timeout(500)
        route.continue_()

    page.route("**/api/graph", slow)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    expect(page.locator(".graph-pane")).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("status").first).to_have_text("Running…")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()


def test_error_in_alert_marks_the_line(page: Page, live_server: str, artifacts: Path) -> None:
    open_page(page, live_server, NARROW)
    set_code(page, "import torch\nx = torch.tensor(1.0)\nimport os\ny = x * 2")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("line 3, column 8")
    marked = page.locator(".CodeMirror .error-line")
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("import os")
    page.screenshot(path=str(artifacts / "error-1024.png"))
    page.get_by_label("Code").press("End")
    page.keyboard.type(" ")
    expect(marked).to_have_count(0)


def test_every_example_loads_and_runs(page: Page, live_server: str, artifacts: Path) -> None:
    open_page(page, live_server, WIDE)
    # The page opens on the chain rule, with its lesson.
    chain_rule = EXAMPLES["chain-rule"]
    assert editor_text(page) == chain_rule["code"]
    expect(page.get_by_label("Examples")).to_have_value("chain-rule")
    expect(page.locator("#lesson")).to_have_text(chain_rule["lesson"])
    for example in EXAMPLE_LIST:
        if example.get("error"):
            pick(page, example["title"])
            page.get_by_role("button", name="Run", exact=True).click()
            expect(page.get_by_role("alert")).to_contain_text("In plain words")
        else:
            pick_and_run(page, example["title"])
            expect(page.get_by_role("alert")).to_be_hidden()
            expect(page.locator("#variables tbody tr").first).to_be_visible()
            drawn = example["id"] != "classifier-by-hand"  # that lesson has no requires_grad
            expect(page.get_by_role("button", name="PNG")).to_be_enabled(enabled=drawn)
            if drawn:
                assert_drawn_in_served_font(page)
            assert misplaced_node_text(page) == []
        assert editor_text(page) == example["code"]
        expect(page.locator("#lesson")).to_have_text(example.get("lesson", ""))
        page.screenshot(path=str(artifacts / f"example-{example['id']}-wide.png"))


def test_lesson_goes_when_the_code_is_not_the_examples(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    lesson = page.locator("#lesson")
    menu = page.get_by_label("Examples")
    pick(page, CHAIN_RULE_TITLE)
    expect(lesson).to_contain_text("z = sin(y)")
    # A program of the user's own: the lesson about z = sin(y) is not above its graph.
    set_code(page, "import torch\n\nw = torch.tensor(2.0, requires_grad=True)\nloss = w * 3")
    expect(lesson).to_be_empty()
    expect(menu).to_have_value("")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(graph_node(page, "w scalar")).to_contain_text("dloss/dw = 3")
    expect(lesson).to_be_empty()
    # Picking the example again brings it back; so does undoing an edit back to its code.
    pick(page, CHAIN_RULE_TITLE)
    expect(lesson).to_contain_text("z = sin(y)")
    editor = page.get_by_label("Code")
    editor.focus()
    page.keyboard.press("ControlOrMeta+End")
    page.keyboard.type("\nw = x * 5")
    expect(lesson).to_be_empty()
    expect(menu).to_have_value("")
    for _ in range(20):  # CodeMirror groups typed characters into a few undo steps
        if editor_text(page) == EXAMPLES["chain-rule"]["code"]:
            break
        page.keyboard.press("ControlOrMeta+z")
    assert editor_text(page) == EXAMPLES["chain-rule"]["code"]
    expect(lesson).to_contain_text("z = sin(y)")
    expect(menu).to_have_value("chain-rule")


def test_search_finds_nodes(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, CLASSIFIER_TITLE)
    search = page.get_by_role("searchbox", name="Find")
    search.fill("log")
    expect(page.locator("#search-status")).to_have_text("2 found")
    expect(page.locator("#graph .node.match")).to_have_count(2)
    search.press("Enter")
    expect(details(page).locator("h3")).to_contain_text("LogBackward0")
    search.fill("y_predicted")
    expect(page.locator("#search-status")).to_have_text("1 found")


def test_exports(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, CHAIN_RULE_TITLE)
    expected = {
        "SVG": ("autograd-graph.svg", b"<svg"),
        "PNG": ("autograd-graph.png", b"\x89PNG"),
        "DOT": ("autograd-graph.dot", b"digraph autograd"),
        "JSON": ("autograd-answer.json", b"{"),
    }
    for button, (filename, start) in expected.items():
        with page.expect_download() as info:
            page.get_by_role("group", name="Export").get_by_role("button", name=button).click()
        download = info.value
        assert download.suggested_filename == filename
        content = Path(download.path()).read_bytes()
        assert content.startswith(start), button
        if button == "JSON":
            assert json.loads(content)["variables"]["x"]["grad"] == pytest.approx(-5.4668, abs=1e-4)


def test_permalink_restores_and_runs(page: Page, live_server: str, artifacts: Path) -> None:
    open_page(page, live_server, NARROW)
    program = "import torch\n\nw = torch.tensor(2.0, requires_grad=True)\nloss = (w * 3) ** 2  # ✓"
    set_code(page, program)
    page.get_by_label("Output variable (optional)").fill("loss")
    page.get_by_role("button", name="Copy permalink").click()
    expect(page).to_have_url(re.compile(r"#code=[\w-]+&output=loss$"))
    link = page.url
    page.goto("about:blank")
    page.goto(link)
    assert editor_text(page) == program
    expect(page.locator("#lesson")).to_be_empty()  # a program of the user's own
    expect(page.get_by_label("Output variable (optional)")).to_have_value("loss")
    expect(graph_node(page, "w scalar")).to_contain_text("dloss/dw = 36")
    page.screenshot(path=str(artifacts / "permalink-restored-1024.png"))


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize(("viewport", "name"), [(WIDE, "wide"), (NARROW, "1024")])
def test_dark_mode(
    page: Page, live_server: str, artifacts: Path, viewport: ViewportSize, name: str
) -> None:
    page.emulate_media(color_scheme="dark")
    open_page(page, live_server, viewport)
    pick_and_run(page, CLASSIFIER_TITLE)
    graph_node(page, "w scalar").click()
    expect(details(page)).to_contain_text("6.6918")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 24, 31)"
    page.screenshot(path=str(artifacts / f"dark-{name}.png"), full_page=True)
    assert serious_axe_violations(page) == []


def test_pan_zoom_fit_reset(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, CHAIN_RULE_TITLE)
    viewport = page.locator("#graph .svg-pan-zoom_viewport")

    def matrix() -> list[float]:
        values: list[float] = viewport.evaluate(
            "(g) => { const m = g.transform.baseVal.consolidate().matrix; return [m.a, m.e, m.f]; }"
        )
        return values

    def wait_for(condition: Callable[[list[float]], bool]) -> None:
        for _ in range(50):
            if condition(matrix()):
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"the view did not change as expected: {matrix()}")

    fitted = matrix()
    same_view = pytest.approx(fitted, rel=1e-4, abs=1e-3)
    page.get_by_role("button", name="Zoom in").click()
    wait_for(lambda now: now[0] > fitted[0] * 1.1)
    page.get_by_role("button", name="Reset view").click()
    wait_for(lambda now: now == same_view)
    box = page.locator("#graph").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 80, steps=5)
    page.mouse.up()
    wait_for(lambda now: now != same_view)
    page.get_by_role("button", name="Fit").click()
    wait_for(lambda now: now == same_view)
