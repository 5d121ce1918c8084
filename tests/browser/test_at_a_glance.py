"""The page teaches at a glance: at 1024, 1366 and 1920 px, light and dark, a learner who picks
the chain rule and clicks x sees, without scrolling, the graph with the local factors on its
edges and the Details explaining -5.4668 = -0.9111 × 6, beside or over the graph."""  # noqa: RUF002

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.browser.editor import set_code
from tests.browser.pages import (
    CHAIN_RULE_TITLE,
    graph_node,
    open_page,
    pick,
    pick_and_run,
    serious_axe_violations,
)

SIZES: list[ViewportSize] = [
    {"width": 1024, "height": 700},
    {"width": 1366, "height": 768},
    {"width": 1920, "height": 1080},
]
TIMES = "\N{MULTIPLICATION SIGN}"


def in_view(page: Page, locator: Locator) -> bool:
    """Whether the element's box lies wholly inside the window, as it is scrolled now."""
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert box is not None
    assert viewport is not None
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] + box["height"] <= viewport["height"]
    )


def uncovered(page: Page, locator: Locator) -> bool:
    """Whether the middle of the element is what a click there would reach (not the panel)."""
    hit: bool = locator.evaluate(
        """(element) => {
            const box = element.getBoundingClientRect();
            const found = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return element.contains(found);
        }"""
    )
    return hit


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", SIZES, ids=lambda size: str(size["width"]))
def test_chain_rule_at_a_glance(
    page: Page, live_server: str, artifacts: Path, viewport: ViewportSize, scheme: str
) -> None:
    page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    open_page(page, live_server, viewport)
    pick_and_run(page, CHAIN_RULE_TITLE)
    x_node = graph_node(page, "x scalar")
    x_node.click()
    panel = page.get_by_role("region", name="Details")
    expect(panel).to_contain_text(f"-5.4668 = -0.9111 {TIMES} 6")
    expect(panel.get_by_text(f"-5.4668 = -0.9111 {TIMES} 6")).to_be_in_viewport(ratio=1)
    factor = page.locator("#graph g.edge", has_text=f"{TIMES} 6 = 2x")
    assert page.evaluate("window.scrollY") == 0
    for seen in (x_node, factor, panel.get_by_role("heading", name="x")):
        assert in_view(page, seen), seen
    # The panel leaves the selected box in sight and clickable: the graph is still usable.
    assert uncovered(page, x_node)
    page.screenshot(path=str(artifacts / f"glance-chain-rule-x-{viewport['width']}-{scheme}.png"))
    assert serious_axe_violations(page) == []
    # Closing the panel goes back to the box.
    page.get_by_role("button", name="Close details").click()
    expect(x_node).to_be_focused()


def test_a_failed_run_leaves_nothing_stale(page: Page, live_server: str, artifacts: Path) -> None:
    """After an error, no graph, printed output, variable or export of the run before passes
    as this one's."""
    open_page(page, live_server, SIZES[1])
    pick_and_run(page, "4. backward(), leaf and non-leaf .grad")
    expect(page.locator("#stdout")).to_contain_text("True False")
    pick(page, "11. backward() twice through the same graph")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("alert")).to_contain_text("In plain words")
    expect(page.locator("#graph svg")).to_have_count(0)
    expect(page.locator("#graph")).to_contain_text("the last run failed")
    expect(page.locator("#stdout")).to_be_empty()
    expect(page.locator("#variables tbody tr")).to_have_count(0)
    for kind in ("SVG", "PNG", "DOT", "JSON"):
        export = page.get_by_role("group", name="Export").get_by_role("button", name=kind)
        expect(export).to_be_disabled()
    page.screenshot(path=str(artifacts / "glance-failed-run-1366.png"))


def test_gradient_and_dot_grad_are_named_apart(page: Page, live_server: str) -> None:
    """Lesson 4: y's box shows d out/d y, and its Details say .grad is None (y is no leaf),
    as print(y.grad) does; x's .grad is its gradient."""
    open_page(page, live_server, SIZES[1])
    pick_and_run(page, "4. backward(), leaf and non-leaf .grad")
    y_node = graph_node(page, "PowBackward0 → y")
    expect(y_node).to_contain_text("dout/dy = -1.8223")
    expect(y_node).not_to_contain_text("grad")
    y_node.click()
    panel = page.get_by_role("region", name="Details")
    expect(panel.locator("dt", has_text="dout/dy")).to_be_visible()
    expect(panel).to_contain_text(".grad")
    expect(panel).to_contain_text("None (not a leaf")
    graph_node(page, "x scalar").click()
    expect(panel).to_contain_text("dout/dx")
    expect(
        panel.locator("dt", has_text=".grad").locator("xpath=following-sibling::dd[1]")
    ).to_have_text("-10.9336")


# The height in pixels of the graph's text as drawn now: its font size times the scale of the
# drawing on screen, smallest and largest.
TEXT_PX = """() => {
  const sizes = [...document.querySelectorAll("#graph text")].map((text) =>
    Number.parseFloat(text.getAttribute("font-size")) * text.getScreenCTM().a);
  return [Math.min(...sizes), Math.max(...sizes)];
}"""


@pytest.mark.parametrize(
    ("title", "name"),
    [
        (CHAIN_RULE_TITLE, "chain-rule"),
        ("6. The same classifier with autograd", "classifier"),
        ("A small MLP", "mlp"),
    ],
)
def test_text_stays_readable(
    page: Page, live_server: str, artifacts: Path, title: str, name: str
) -> None:
    """No text under 11 px, small graphs not blown up, a tall graph makes a taller pane that
    the page scrolls; one legend."""
    open_page(page, live_server, SIZES[0])
    pick_and_run(page, title)
    smallest, largest = page.evaluate(TEXT_PX)
    assert smallest >= 10.99, (smallest, largest)
    assert largest <= 11 * 1.5 * 1.01, (smallest, largest)  # node text 11 pt, magnified <= 1.5
    expect(page.locator("#graph #legend")).to_have_count(0)
    expect(page.get_by_role("list", name="Legend")).to_have_count(1)
    for button in ("Zoom out", "Fit"):  # Fit comes back to the readable view
        page.get_by_role("button", name=button).click()
    page.wait_for_timeout(300)
    assert page.evaluate(TEXT_PX)[0] >= 10.99
    page.locator("#graph").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"glance-readable-{name}-1024.png"), full_page=True)


STROKE = "(element) => getComputedStyle(element.querySelector('path, polygon')).stroke"


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_step_through_sits_with_the_graph(
    page: Page, live_server: str, artifacts: Path, scheme: str
) -> None:
    """The player and its narration under the graph, in sight at 1024 x 700; the current step
    in a colour of its own, named in the legend, not the path's orange."""
    page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    open_page(page, live_server, SIZES[0])
    pick_and_run(page, CHAIN_RULE_TITLE)
    player = page.get_by_role("region", name="Step through backward")
    expect(
        page.locator(".graph-pane").get_by_role("region", name="Step through backward")
    ).to_be_visible()
    graph_node(page, "x scalar").click()
    path_colour = graph_node(page, "PowBackward0 → y").evaluate(STROKE)
    for _ in range(2):
        player.get_by_role("button", name="Step").click()
    expect(player.locator(".teaching-status")).to_contain_text(f"-0.9111 = 1 {TIMES} -0.9111")
    current = page.locator("#graph .teaching-current")
    expect(current).to_have_count(1)
    assert current.evaluate(STROKE) != path_colour
    legend = page.get_by_role("list", name="Legend")
    expect(legend).to_contain_text("backward is here")
    for seen in (player.get_by_role("button", name="Step"), player.locator(".teaching-status")):
        assert in_view(page, seen), seen
    page.screenshot(path=str(artifacts / f"glance-step-through-1024-{scheme}.png"))
    assert serious_axe_violations(page) == []


def test_a_leaf_used_four_times(page: Page, live_server: str, artifacts: Path) -> None:
    """Lesson 8: x is drawn once per use, each copy says which use it is and how the uses add
    up to 25; every copy is selectable and Find finds all four."""
    open_page(page, live_server, SIZES[1])
    pick_and_run(page, "8. Switching gradients off")
    copies = page.locator("#graph g.node[data-node-id]", has_text="x (use")
    expect(copies).to_have_count(4)
    for use in range(4):
        copy = graph_node(page, f"x (use {use + 1} of 4)")
        expect(copy).to_contain_text("dy/dx = 10 + 8 + 3 + 4 = 25")
    panel = page.get_by_role("region", name="Details")
    for use in (3, 1):
        graph_node(page, f"x (use {use} of 4)").click()
        expect(panel.get_by_role("heading", name="x")).to_be_visible()
        expect(panel).to_contain_text("they add up: 10 + 8 + 3 + 4 = 25")
        expect(page.locator("#graph g.node.selected")).to_have_count(4)
    page.get_by_role("searchbox", name="Find").fill("x")
    expect(page.locator("#search-status")).to_have_text("4 found")
    expect(page.locator("#graph .node.match")).to_have_count(4)
    page.screenshot(path=str(artifacts / "glance-leaf-four-uses-1366.png"))


def test_error_shows_under_its_line(page: Page, live_server: str, artifacts: Path) -> None:
    """On a long program the message shows under the line it points at, in sight, with Run;
    a matrix product's shapes in plain words, and a typo answered as Python would."""
    open_page(page, live_server, SIZES[1])
    filler = "".join(f"a{i} = torch.ones(2) * {i}\n" for i in range(50))
    program = (
        "import torch\n" + filler + "W = torch.ones(3, 4, requires_grad=True)\n"
        "x = torch.ones(3, 2)\ny = W @ x\n"
    )
    set_code(page, program)
    page.keyboard.press("ControlOrMeta+Enter")
    note = page.locator(".CodeMirror .error-widget")
    expect(note).to_contain_text("W is 3x4, x is 3x2: the inner sizes 4 and 3 differ")
    expect(note).to_be_in_viewport(ratio=1)
    assert uncovered(page, note)  # not under the Run bar that stays at the window's bottom
    expect(page.get_by_role("button", name="Run")).to_be_in_viewport(ratio=1)
    line = page.locator(".CodeMirror .error-line")
    expect(line).to_contain_text("y = W @ x")
    page.screenshot(path=str(artifacts / "glance-error-under-line-1366.png"))
    set_code(page, "import torch\nb = torch.ones(3, requires_grad=True)\nprint(b.gradd)\n")
    expect(note).to_have_count(0)  # an edit clears the old message
    page.get_by_role("button", name="Run").click()
    expect(note).to_contain_text("Tensor has no attribute 'gradd'; did you mean 'grad'?")


SEQUENTIAL = """import torch
from torch import nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
x = torch.randn(3, 4)
loss = model(x).pow(2).mean()
loss.backward()
"""


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_tensors_a_learner_can_read(
    page: Page, live_server: str, artifacts: Path, scheme: str
) -> None:
    """An 8x4 weight gradient as an 8 x 4 grid with its shape; the module parameters in the
    variables table; each layer's operations titled with the layer."""
    page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    open_page(page, live_server, SIZES[1])
    set_code(page, SEQUENTIAL)
    page.get_by_role("button", name="Run").click()
    expect(graph_node(page, "AddmmBackward0 (model.0)")).to_have_count(1)
    expect(graph_node(page, "AddmmBackward0 (model.2)")).to_have_count(1)
    graph_node(page, "model.0.weight").click()
    panel = page.get_by_role("region", name="Details")
    heading = panel.get_by_role("heading", name="model.0.weight")
    expect(heading).to_be_visible()
    panel.locator("summary", has_text="8×4").first.click()  # noqa: RUF001 - the times sign
    grid = panel.get_by_role("table", name="8×4 tensor").first  # noqa: RUF001 - the times sign
    expect(grid.locator("tr")).to_have_count(8)
    expect(grid.locator("tr").first.locator("td")).to_have_count(4)
    page.screenshot(path=str(artifacts / f"glance-tensor-grid-1366-{scheme}.png"))
    table = page.locator("#variables")
    for name in ("model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"):
        expect(table.locator("tbody th", has_text=name)).to_have_count(1)
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"glance-parameters-1366-{scheme}.png"))
    assert serious_axe_violations(page) == []


def test_the_page_opens_on_the_chain_rule_run(page: Page, live_server: str) -> None:
    open_page(page, live_server, SIZES[0])
    expect(page.get_by_role("status").first).to_contain_text("Done")
    expect(graph_node(page, "x scalar")).to_contain_text("dz/dx = -5.4668")


def test_training_loop_teaches_that_step_helps(page: Page, live_server: str) -> None:
    open_page(page, live_server, SIZES[1])
    pick_and_run(page, "9. A module, an optimiser, zero_grad() and step()")
    printed = page.locator("#stdout").inner_text().split("\n")
    losses = [float(line.split()[1]) for line in printed if line.strip()]
    assert len(losses) == 3
    assert losses[0] > losses[1] > losses[2], losses


def test_a_constant_says_what_it_is(page: Page, live_server: str) -> None:
    open_page(page, live_server, SIZES[1])
    pick_and_run(page, "8. Switching gradients off")
    graph_node(page, "n (cut, no grad)").click()
    panel = page.get_by_role("region", name="Details")
    expect(
        panel.locator("dt", has_text="Kind").locator("xpath=following-sibling::dd[1]")
    ).to_contain_text("constant: cut from the graph")
    expect(panel).not_to_contain_text("undefined")


def test_tab_can_move_focus_out_of_the_editor(page: Page, live_server: str) -> None:
    open_page(page, live_server, SIZES[0])
    editor = page.get_by_label("Code")
    editor.focus()
    page.keyboard.press("Tab")
    expect(editor).to_be_focused()  # Tab indents by default
    switch = page.get_by_role("button", name="Tab moves focus")
    expect(switch).to_have_attribute("aria-pressed", "false")
    editor.focus()
    page.keyboard.press("Control+m")
    expect(switch).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    expect(editor).not_to_be_focused()
    switch.click()
    expect(switch).to_have_attribute("aria-pressed", "false")


# Relative luminance (0 black, 1 white) of an element's computed colour property.
LUMINANCE = """([element, property]) => {
  const [r, g, b] = getComputedStyle(element)[property].match(/\\d+(\\.\\d+)?/g).map(Number);
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}"""


def test_dark_mode_draws_a_dark_graph(page: Page, live_server: str, artifacts: Path) -> None:
    page.emulate_media(color_scheme="dark")
    open_page(page, live_server, SIZES[2])
    pick_and_run(page, CHAIN_RULE_TITLE)
    canvas = page.locator("#graph").element_handle()
    leaf = page.locator("#graph g.node-leaf > path").first.element_handle()
    text = page.locator("#graph g.node-leaf text").first.element_handle()
    assert page.evaluate(LUMINANCE, [canvas, "backgroundColor"]) < 0.05
    assert page.evaluate(LUMINANCE, [leaf, "fill"]) < 0.1
    assert page.evaluate(LUMINANCE, [text, "fill"]) > 0.7
    page.screenshot(path=str(artifacts / "glance-dark-graph-1920.png"))
