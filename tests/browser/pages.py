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
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("status").first).to_contain_text("Done")


def graph_node(page: Page, name: str) -> Locator:
    """A node of the graph by the start of its accessible name (the text it shows)."""
    return page.get_by_role("button", name=re.compile("^" + re.escape(name)))


def editor_text(page: Page) -> str:
    text: str = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    return text
