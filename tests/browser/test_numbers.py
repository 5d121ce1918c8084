"""The page's numbers (static/format.js) read as the drawing's (app/contract/text.py): one
rule in two languages, compared value by value in Chromium."""

from playwright.sync_api import Page

from app.contract.text import format_number

VALUES = [
    -5.466781,
    3.0,
    3.00001,
    0.41211849,
    99999.99999,
    123456.0,
    123456.5,
    1e9,
    1e20,
    1e-7,
    -2.5e-5,
    -1.5e-300,
    0.0,
    -0.0,
    9,
    67280421310721,
]


def test_page_and_drawing_print_numbers_alike(page: Page, live_server: str) -> None:
    page.goto(live_server)
    shown = page.evaluate(
        """async (values) => {
            const { formatNumber } = await import("/static/format.js");
            return values.map(formatNumber);
        }""",
        VALUES,
    )
    assert shown == [format_number(value) for value in VALUES]
