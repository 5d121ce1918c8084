"""The teaching views on the real page: pick a lesson, Run, step through backward (the nodes
light up in backward_step order), read the gradient check and the chain rule's "explain",
follow the passes of .grad; at 1024 px, wide and in dark mode."""

import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, ViewportSize, expect

from tests.browser.editor import set_code
from tests.browser.pages import (
    ACCUMULATION_TITLE,
    CHAIN_RULE_TITLE,
    NARROW,
    WIDE,
    graph_node,
    open_page,
    pick,
    pick_and_run,
)
from tests.examples import EXAMPLES

CURRENT = re.compile(r"\bteaching-current\b")
DONE = re.compile(r"\bteaching-done\b")


def lessons(page: Page) -> Locator:
    return page.get_by_role("region", name="Lessons and gradients")


def stepper(page: Page) -> Locator:
    """The step-through of backward, under the graph it lights up."""
    return page.get_by_role("region", name="Step through backward")


def backward_order(page: Page, live_server: str, example_id: str) -> list[int]:
    """The ids of the nodes backward went through, in the API's backward_step order."""
    code = EXAMPLES[example_id]["code"]
    nodes = page.request.post(f"{live_server}/api/graph", data={"code": code}).json()["nodes"]
    stepped = [node for node in nodes if node["backward_step"] is not None]
    return [node["id"] for node in sorted(stepped, key=lambda node: node["backward_step"])]


def node(page: Page, node_id: int) -> Locator:
    return page.locator(f'#graph [data-node-id="{node_id}"]')


@pytest.mark.parametrize(
    ("viewport", "scheme", "name"),
    [(NARROW, "light", "1024"), (WIDE, "dark", "wide-dark")],
)
def test_chain_rule_lesson(
    page: Page,
    live_server: str,
    artifacts: Path,
    viewport: ViewportSize,
    scheme: str,
    name: str,
) -> None:
    page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    open_page(page, live_server, viewport)
    order = backward_order(page, live_server, "chain-rule")
    assert len(order) == 3
    pick_and_run(page, CHAIN_RULE_TITLE)
    expect(page.locator("#lesson")).to_contain_text("dz/dx = cos(y) · 2x")
    view = lessons(page)
    player = stepper(page)
    step = player.get_by_role("button", name="Step")
    status = player.locator(".teaching-status")
    texts = [
        "Step 1 of 3: SinBackward0 → z receives the gradient 1",
        "Step 2 of 3: PowBackward0 → y receives the gradient -0.9111 = 1 × -0.9111",  # noqa: RUF001 - the times sign
        "Step 3 of 3: x receives the gradient -5.4668 = -0.9111 × 6 "  # noqa: RUF001 - the times sign
        "(the gradient at PowBackward0 → y times the local derivative)",
    ]
    for index, (node_id, text) in enumerate(zip(order, texts, strict=True)):
        step.click()
        expect(status).to_contain_text(text)
        expect(node(page, node_id)).to_have_class(CURRENT)
        expect(page.locator("#graph .teaching-done")).to_have_count(index + 1)
    expect(page.locator("#graph .teaching-current")).to_have_count(1)
    expect(status).to_contain_text("Backward is done")
    expect(step).to_be_disabled()

    # Play starts again from the root and lights the same nodes, in the same order.
    player.get_by_role("button", name="Play").click()
    for node_id in order:
        expect(node(page, node_id)).to_have_class(CURRENT)
    expect(status).to_contain_text("Backward is done")
    expect(player.get_by_role("button", name="Play")).to_be_enabled()
    expect(player.get_by_role("button", name="Pause")).to_be_disabled()
    player.get_by_role("button", name="Reset").click()
    expect(page.locator("#graph .teaching-done")).to_have_count(0)

    check = view.get_by_role("table", name="Gradient check per leaf")
    expect(check.get_by_role("row", name=re.compile("^x"))).to_contain_text("✓ agrees")
    view.get_by_text("Explain the gradient of x").click()
    formula = view.locator(".teaching-formula")
    expect(formula).to_have_text("dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668")
    expect(formula).to_be_visible()
    step.click()  # one lit node, to see the marks in the screenshot
    expect(node(page, order[0])).to_have_class(DONE)
    view.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"lesson-chain-rule-explain-{name}.png"), full_page=True)


@pytest.mark.parametrize(("viewport", "name"), [(WIDE, "wide"), (NARROW, "1024")])
def test_accumulation_timeline(
    page: Page, live_server: str, artifacts: Path, viewport: ViewportSize, name: str
) -> None:
    open_page(page, live_server, viewport)
    pick_and_run(page, ACCUMULATION_TITLE)
    expect(page.locator("#lesson")).to_contain_text("4, then 8")
    passes = lessons(page).locator(".teaching-pass")
    expect(passes).to_have_count(4)
    for index, (title, grad) in enumerate(
        [
            ("backward() from y", "4"),
            ("backward() from y", "8"),
            (".grad reset", "0"),
            ("backward() from y", "4"),
        ]
    ):
        expect(passes.nth(index).locator(".teaching-pass-title")).to_contain_text(title)
        expect(passes.nth(index).get_by_role("row", name=re.compile("^x"))).to_contain_text(grad)
    expect(passes.nth(2)).to_have_class(re.compile(r"\bteaching-pass-reset\b"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], "the timeline wraps instead of widening the page"
    passes.first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"lesson-accumulation-{name}.png"), full_page=True)


def test_cut_tensors_are_listed(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, "8. Switching gradients off")
    cut = lessons(page).locator(".teaching-cut")
    for name in ("w", "d", "n"):
        expect(cut).to_contain_text(f"{name}: ")
    expect(page.locator("#graph .node-const")).to_have_count(3)


def test_a_failed_run_clears_the_views(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, CHAIN_RULE_TITLE)
    expect(stepper(page).get_by_role("button", name="Step")).to_be_visible()
    pick(page, "11. backward() twice through the same graph")
    expect(page.locator("#lesson")).to_contain_text("retain_graph=True")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("In plain words")
    expect(page.get_by_role("button", name="Step")).to_have_count(0)
    expect(lessons(page)).to_contain_text("Run a program")


def test_gradient_check_fills_after_the_drawing(page: Page, live_server: str) -> None:
    """The answer is drawn before its gradient check comes; the panel says it is checking,
    then fills in, and the JSON export has the check once it has come."""
    held: list[Route] = []
    page.route("**/api/graph/extras/*", lambda route: held.append(route))
    open_page(page, live_server, NARROW)
    # Unique, so that the answer is not the cache's (which is complete).
    program = (
        "import torch\nw = torch.tensor(3.0, requires_grad=True)\n"
        f"z = torch.sin(w ** 2)  # {uuid.uuid4()}"
    )
    set_code(page, program)
    page.get_by_role("button", name="Run").click()
    expect(graph_node(page, "w scalar")).to_contain_text("dz/dw")
    view = lessons(page)
    expect(view).to_contain_text("checking…")
    expect(view.get_by_role("table", name="Gradient check per leaf")).to_have_count(0)
    for route in held:
        route.continue_()
    check = view.get_by_role("table", name="Gradient check per leaf")
    expect(check.get_by_role("row", name=re.compile("^w"))).to_contain_text("✓ agrees")
    expect(view).not_to_contain_text("checking…")
    with page.expect_download() as info:
        page.get_by_role("group", name="Export").get_by_role("button", name="JSON").click()
    exported = json.loads(Path(info.value.path()).read_text())
    assert exported["gradcheck"]["w"]["ok"] is True
    assert exported["pending"] == []


def test_a_models_weights_are_checked_along_a_direction(page: Page, live_server: str) -> None:
    """A layer's weight has too many elements to move one at a time: the check says it was
    moved along one random direction, with the two slopes, and agrees."""
    open_page(page, live_server, NARROW)
    program = (
        "import torch\nfrom torch import nn\nlayer = nn.Linear(20, 5)\n"
        "loss = layer(torch.randn(4, 20)).tanh().pow(2).mean()\nloss.backward()\n"
    )
    set_code(page, program)
    page.get_by_role("button", name="Run").click()
    check = lessons(page).get_by_role("table", name="Gradient check per leaf")
    weight = check.get_by_role("row", name=re.compile("^layer.weight"))
    expect(weight).to_contain_text("✓ agrees")
    expect(weight).to_contain_text("slope along v")
    expect(weight).to_contain_text("its 100 elements are too many to move one at a time")
    # The bias is small enough: element by element, its numeric gradient in full.
    bias = check.get_by_role("row", name=re.compile("^layer.bias"))
    expect(bias).to_contain_text("✓ agrees")
    expect(bias).not_to_contain_text("slope along v")
    expect(lessons(page)).to_contain_text("nudged along one random direction v")
