"""The page in real Chromium: type, run, read the gradient; errors in the alert."""

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.editor import set_code
from tests.seed_cells import CHAIN_RULE_LESSON, WHOLE_NOTEBOOK, WHOLE_NOTEBOOK_STDOUT


def test_seed_chain_rule_on_the_page(page: Page, live_server: str, artifacts: Path) -> None:
    page.goto(live_server)
    set_code(page, CHAIN_RULE_LESSON)
    page.get_by_role("button", name="Run", exact=True).click()
    row = page.locator("#variables tbody tr", has=page.locator("th", has_text="x"))
    expect(row).to_contain_text("-5.4668")
    expect(page.locator("#graph svg")).to_be_visible()
    expect(page.locator("#graph svg #node-2")).to_contain_text("-5.4668")
    page.screenshot(path=str(artifacts / "chain-rule.png"), full_page=True)


def test_refused_program_shows_in_the_alert(page: Page, live_server: str) -> None:
    page.goto(live_server)
    set_code(page, "import os")
    page.get_by_role("button", name="Run", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("import of 'os' is not allowed")
    expect(alert).to_contain_text("line 1, column 8")


def test_whole_seed_notebook_runs_verbatim_on_the_page(page: Page, live_server: str) -> None:
    """The core issue's acceptance: the notebook, pasted as it is, gives PyTorch's numbers."""
    page.goto(live_server)
    set_code(page, WHOLE_NOTEBOOK)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#stdout")).to_have_text(WHOLE_NOTEBOOK_STDOUT)
    row = page.locator("#variables tbody tr", has=page.locator("th", has_text=re.compile("^w$")))
    expect(row).to_contain_text("6.6918")
    expect(page.locator("#graph svg .node-root")).to_contain_text("PowBackward0")
