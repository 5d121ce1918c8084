"""Big graphs a person can read: module calls drawn as clusters and boxes, collapsed, expanded,
rolled and unrolled on the page, with search reaching into them; at 1024 px, with a timer."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.editor import set_code
from tests.browser.pages import NARROW, open_page
from tests.test_module_groups import RNN_CELL, TRANSFORMER

CNN = """import torch
import torch.nn as nn
def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(block(3, 8), block(8, 16), block(16, 16))
        self.head = nn.Linear(16, 10)
    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))
        return self.head(x)
model = Net()
loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 16, 16)), torch.tensor([1, 2, 3, 4]))
loss.backward()
"""
LSTM = """import torch
import torch.nn as nn
lstm = nn.LSTM(4, 8)
head = nn.Linear(8, 1)
out, (h, c) = lstm(torch.randn(50, 2, 4))
loss = head(out[-1]).pow(2).mean()
loss.backward()
"""
# Ten stages of sixty Linear-Tanh blocks: 3,000 nodes in 1,800 module calls.
BIG = """import torch
import torch.nn as nn
def stage(width, blocks):
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.Tanh())
                           for _ in range(blocks)])
model = nn.Sequential(*[stage(8, 60) for _ in range(10)])
loss = model(torch.randn(2, 8)).pow(2).mean()
loss.backward()
"""
MIN_TITLE_PX = 9
TOGGLE_MS = 300
COLD_TOGGLE_MS = 3_000  # a layout on the server, on a busy 2-core machine

# The height on screen of each box's and cluster's title (its first line of text).
TITLE_HEIGHTS = """() => [
  ...[...document.querySelectorAll('#graph g.node')].map((node) => node.querySelector('text')),
  ...document.querySelectorAll('#graph g.cluster > text'),
].filter(Boolean).map((text) => text.getBoundingClientRect().height)"""

# Clicks the element, and how long until the new drawing is in the page.
TIMED_CLICK = """async (selector) => {
  const graph = document.getElementById('graph');
  const before = graph.querySelector('svg');
  const target = graph.querySelector(selector);
  const start = performance.now();
  const drawn = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (graph.querySelector('svg') !== before) { observer.disconnect(); resolve(); }
    });
    observer.observe(graph, { childList: true });
  });
  target.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  await drawn;
  return performance.now() - start;
}"""


def run_program(page: Page, url: str, code: str) -> None:
    open_page(page, url, NARROW)
    expect(page.locator("#status")).to_contain_text("Done")  # the first lesson, opened
    set_code(page, code)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Done")


@pytest.mark.parametrize(
    ("name", "code", "shown"),
    [
        ("rnn-cell", RNN_CELL, "Unroll cell (RNNCell) \N{MULTIPLICATION SIGN}12"),
        ("transformer", TRANSFORMER, "Expand model.layers.0.self_attn (MultiheadAttention)"),
        ("cnn", CNN, "Expand model.features.0.1 (BatchNorm2d)"),
        ("lstm", LSTM, "Collapse lstm (LSTM)"),
    ],
)
def test_default_view_reads_at_fit(
    page: Page, live_server: str, artifacts: Path, name: str, code: str, shown: str
) -> None:
    run_program(page, live_server, code)
    expect(page.get_by_role("button", name=shown, exact=True)).to_be_visible()
    page.get_by_role("button", name="Fit").click()
    heights = page.evaluate(TITLE_HEIGHTS)
    page.screenshot(path=artifacts / f"groups-{name}-1024.png")
    assert heights
    assert min(heights) >= MIN_TITLE_PX


def test_roll_unroll_expand_collapse_and_search(
    page: Page, live_server: str, artifacts: Path
) -> None:
    run_program(page, live_server, RNN_CELL)
    page.get_by_role("button", name="Unroll cell (RNNCell) \N{MULTIPLICATION SIGN}12").click()
    expand = page.get_by_role("button", name="Expand cell (RNNCell), call 4 of 12", exact=True)
    expect(expand).to_be_visible()
    expect(page.locator("#graph g.node-group")).to_have_count(12)
    page.screenshot(path=artifacts / "groups-rnn-cell-unrolled-1024.png")
    expand.focus()
    page.keyboard.press("Enter")
    collapse = page.get_by_role("button", name="Collapse cell (RNNCell), call 4 of 12")
    expect(collapse).to_be_visible()
    # Its operations are drawn with their gradients (the other steps stay boxes).
    expect(page.locator("#graph g.node-group")).to_have_count(11)
    operations = page.locator("#graph g.node-op")
    expect(operations).to_have_count(7)  # the step's six, and the loss's pow
    expect(operations.filter(has_text="TanhBackward0")).to_contain_text("dloss/d")
    page.screenshot(path=artifacts / "groups-rnn-cell-step-1024.png")
    collapse.click()
    expect(page.locator("#graph g.node-group")).to_have_count(12)
    # Search reaches into a collapsed call: Enter opens it and selects the hit.
    page.get_by_role("button", name="Default view").click()
    expect(page.locator("#graph g.node-group")).to_have_count(1)
    page.get_by_label("Find").fill("TanhBackward")
    expect(page.locator("#search-status")).to_have_text("12 found")
    expect(page.locator("#graph g.node-group.match")).to_have_count(1)
    page.get_by_label("Find").press("Enter")
    # Titled as its box is; the call it is in, in the row under it.
    heading = page.locator("#details h3")
    expect(heading).to_have_text("TanhBackward0 \N{RIGHTWARDS ARROW} h")
    expect(page.locator("#graph g.node.selected")).to_contain_text("TanhBackward0")
    call = page.locator("#details dt", has_text="Module call").locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(call).to_have_text("cell (RNNCell), call 12 of 12")
    # The steps of the loop: the same operation in each call, each with its gradient.
    steps = page.locator("#details ol.steps li")
    expect(steps).to_have_count(12)
    expect(steps.nth(11)).to_contain_text("call 12 — grad [0.0701, 0.0339")
    steps.nth(2).get_by_role("link").click()
    expect(heading).to_have_text("TanhBackward0")
    expect(call).to_have_text("cell (RNNCell), call 3 of 12")
    page.screenshot(path=artifacts / "groups-rnn-cell-search-1024.png")


def test_transformer_layers_expand_to_their_operations(
    page: Page, live_server: str, artifacts: Path
) -> None:
    run_program(page, live_server, TRANSFORMER)
    name = "model.layers.1.linear1 (Linear)"
    page.get_by_role("button", name=f"Expand {name}", exact=True).click()
    expect(page.get_by_role("button", name=f"Collapse {name}", exact=True)).to_be_visible()
    addmm = page.locator("#graph g.node", has_text="AddmmBackward0 (model.layers.1.linear1)")
    expect(addmm).to_contain_text("dloss/d")
    weight = page.locator("#graph g.node-leaf", has_text="model.layers.1.linear1.weight")
    expect(weight).to_have_count(1)
    # The call is wider than the pane at 1024 px: the keyboard brings a box into view.
    addmm.focus()
    page.screenshot(path=artifacts / "groups-transformer-linear1-1024.png")
    page.keyboard.press("Enter")
    expect(page.locator("#details h3")).to_have_text("AddmmBackward0 (model.layers.1.linear1)")


def test_toggling_a_call_of_a_3000_node_program_is_quick(
    page: Page, live_server: str, artifacts: Path
) -> None:
    """A person's pointer reaches a box before the click: the page asks for that view then,
    so the click only draws it. A click with no pointer before it (the first toggle below)
    waits for the server's layout too: bounded, not instant."""
    run_program(page, live_server, BIG)
    cold_ms = page.evaluate(TIMED_CLICK, '#group-1[data-action="expand"]')
    expect(page.get_by_role("button", name="Collapse model.0 (Sequential)")).to_be_visible()
    page.screenshot(path=artifacts / "groups-big-expanded-1024.png")
    page.evaluate(TIMED_CLICK, '#group-1 > text[data-action="collapse"]')
    expand = page.get_by_role("button", name="Expand model.1 (Sequential)", exact=True)
    with page.expect_response("**/api/graph/view"):
        expand.hover()
    group = expand.get_attribute("data-group-id")
    # Best of three: other processes on the machine only ever add to a sample.
    expand_ms, collapse_ms = [], []
    for _ in range(3):
        expand_ms.append(page.evaluate(TIMED_CLICK, f'#group-{group}[data-action="expand"]'))
        collapse = f'#group-{group} > text[data-action="collapse"]'
        collapse_ms.append(page.evaluate(TIMED_CLICK, collapse))
    timings = {"cold expand": [cold_ms], "expand": expand_ms, "collapse": collapse_ms}
    (artifacts / "groups-toggle-ms.txt").write_text(
        "".join(f"{what} {' '.join(f'{ms:.0f}' for ms in all)}\n" for what, all in timings.items())
    )
    assert min(expand_ms) < TOGGLE_MS, expand_ms
    assert min(collapse_ms) < TOGGLE_MS, collapse_ms
    assert cold_ms < COLD_TOGGLE_MS, cold_ms
