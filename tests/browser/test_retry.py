"""The page asks a busy server (503) again after its Retry-After, as a replica behind a
proxy may answer while it goes away, and shows the problem if it stays busy."""

import json

from playwright.sync_api import Page, Route, expect

from tests.browser.pages import NARROW, open_page

BUSY = {
    "type": "/problems/busy",
    "title": "Server busy",
    "status": 503,
    "detail": "Every worker is busy; try again in a moment.",
}


def forgive_503s(errors: list[str]) -> None:
    """Chromium logs each 503 as a console error: here they are the test's own."""
    errors[:] = [error for error in errors if "status of 503" not in error]


def busy(route: Route, retry_after: str) -> None:
    route.fulfill(
        status=503,
        headers={"Retry-After": retry_after},
        content_type="application/problem+json",
        body=json.dumps(BUSY),
    )


def test_a_busy_answer_is_asked_again_after_retry_after(
    page: Page, live_server: str, no_console_errors: list[str]
) -> None:
    open_page(page, live_server, NARROW)
    asked: list[float] = []

    def busy_once(route: Route) -> None:
        asked.append(page.evaluate("performance.now()"))
        if len(asked) == 1:
            busy(route, "1")
        else:
            route.continue_()

    page.route("**/api/graph", busy_once)
    page.get_by_role("button", name="Run", exact=True).click()
    status = page.get_by_role("status").first
    expect(status).to_have_text("Server busy: trying again in 1 s…")
    expect(status).to_contain_text("Done")
    expect(page.locator("#graph svg")).to_be_visible()
    assert len(asked) == 2
    assert asked[1] - asked[0] >= 1000  # it waited as told
    forgive_503s(no_console_errors)


def test_a_server_that_stays_busy_is_shown(
    page: Page, live_server: str, no_console_errors: list[str]
) -> None:
    open_page(page, live_server, NARROW)
    asked: list[str] = []

    def always_busy(route: Route) -> None:
        asked.append(route.request.url)
        busy(route, "0")

    page.route("**/api/graph", always_busy)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Server busy")
    assert len(asked) == 4  # the first request and three more
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
    forgive_503s(no_console_errors)


def test_a_503_without_retry_after_is_not_repeated(
    page: Page, live_server: str, no_console_errors: list[str]
) -> None:
    open_page(page, live_server, NARROW)
    asked: list[str] = []

    def unavailable(route: Route) -> None:
        asked.append(route.request.url)
        route.fulfill(status=503, content_type="application/problem+json", body=json.dumps(BUSY))

    page.route("**/api/graph", unavailable)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Server busy")
    assert asked == [f"{live_server}/api/graph"]
    forgive_503s(no_console_errors)
