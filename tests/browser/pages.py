"""Driving the explorer page the way a person does: open it, pick an example, run it, find a
node of the graph, read the editor; shared by the browser tests."""

import re

from playwright.sync_api import Locator, Page, ViewportSize, expect

NARROW: ViewportSize = {"width": 1024, "height": 900}
WIDE: ViewportSize = {"width": 1920, "height": 1080}
CHAIN_RULE_TITLE = "2. The chain rule: y = x**2, z = sin(y)"
CLASSIFIER_TITLE = "6. The same classifier with autograd"
ACCUMULATION_TITLE = "7. Gradients accumulate; zero_() resets them"


def open_page(page: Page, url: str, viewport: ViewportSize) -> None:
    page.set_viewport_size(viewport)
    page.goto(url)


def pick(page: Page, title: str) -> None:
    page.get_by_label("Examples").select_option(label=title)


def pick_and_run(page: Page, title: str) -> None:
    pick(page, title)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Done")


def graph_node(page: Page, name: str) -> Locator:
    """A node of the graph by the start of its accessible name (the text it shows)."""
    return page.get_by_role("button", name=re.compile("^" + re.escape(name)))


def editor_text(page: Page) -> str:
    text: str = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    return text


# A node's text as the browser lays it out: each run's first and last visible letter (SVG drops
# leading and trailing spaces and collapses runs of them; no-break spaces are kept but blank).
MISPLACED_NODE_TEXT = """() => [...document.querySelectorAll("#graph g.node")].flatMap((node) => {
  const box = node.querySelector("path, polygon").getBBox();
  const runs = [...node.querySelectorAll("text")].flatMap((text) => {
    const laid = text.textContent.replace(/ +/g, " ").replace(/^ | $/g, "");
    const shown = laid.trim();
    if (!shown) return [];
    const start = laid.length - laid.trimStart().length;
    const first = text.getExtentOfChar(start);
    const last = text.getExtentOfChar(start + shown.length - 1);
    return [{ text: shown, y: first.y, left: first.x, right: last.x + last.width }];
  });
  const outside = runs.filter((run) => run.left < box.x || run.right > box.x + box.width);
  const overlapping = runs.filter((run) =>
    runs.some((other) => other.y === run.y && other.left < run.left && other.right > run.left));
  return [...outside, ...overlapping].map((run) => run.text);
})"""


def misplaced_node_text(page: Page) -> list[str]:
    """Text of the drawn graph that sticks out of its box or runs over other text: Graphviz
    sized it with its own font metrics, the browser draws it with real fonts."""
    misplaced: list[str] = page.evaluate(MISPLACED_NODE_TEXT)
    return misplaced


SERVED_FONT = "Liberation Sans"  # static/vendor/fonts/, the metric twin of Helvetica

# What the graph's text is drawn in: the first family each text's computed style asks for, and
# the faces the page has loaded. Both, so that a test cannot pass on a font the machine
# happens to have: `document.fonts.check` alone is true for a family with no faces at all.
DRAWN_FONT = """() => ({
  families: [...new Set([...document.querySelectorAll("#graph text")]
    .map((text) => getComputedStyle(text).fontFamily.split(",")[0].trim().replace(/^"|"$/g, "")))],
  loaded: [...document.fonts].filter((face) => face.status === "loaded")
    .map((face) => `${face.family.replace(/^"|"$/g, "")} ${face.weight}`).sort(),
})"""


def drawn_font(page: Page) -> dict[str, list[str]]:
    """The families the graph's text asks for first, and the web fonts loaded."""
    font: dict[str, list[str]] = page.evaluate(DRAWN_FONT)
    return font


def assert_drawn_in_served_font(page: Page) -> None:
    font = drawn_font(page)
    assert font["families"] == [SERVED_FONT], font
    assert {f"{SERVED_FONT} 400", f"{SERVED_FONT} 700"} <= set(font["loaded"]), font


def serious_axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is (see conftest's `axe`)."""
    violations: list[str] = page.evaluate(
        """async () => (await axe.run()).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(" ")})`)"""
    )
    return violations
