"""Typing into the page's code editor the way a person does: select all, then paste."""

from playwright.sync_api import Page


def set_code(page: Page, code: str) -> None:
    """Replace the program in the editor (CodeMirror inserts typed text at the cursor)."""
    editor = page.get_by_label("Code")
    editor.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(code)
