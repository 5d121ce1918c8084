"""A real uvicorn server and Debian's Chromium for end-to-end tests.

Playwright's own browser download cannot work here, so the tests drive /usr/bin/chromium
(installed by `make test`). Locally they skip with a message if it is missing; in CI
(CI=true) they fail instead, so they never silently skip there.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# A run goes through a worker process and Graphviz on a busy 2-core machine: give it time.
expect.set_options(timeout=20_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"{CHROMIUM} is missing; `make test` installs it")
    skip = pytest.mark.skip(reason=f"install Debian's chromium ({CHROMIUM}); `make test` does")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def no_console_errors(page: Page) -> Iterator[list[str]]:
    """Every browser test fails on a console error or uncaught exception (CSP refusals too)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium logs every 4xx response; a refused program is a 422 by design.
        refused = message.location["url"].endswith("/api/graph") and "422" in message.text
        if message.type == "error" and not refused:
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield errors
    assert errors == []


@pytest.fixture
def axe(context: BrowserContext) -> None:
    """axe-core in every page of the context, injected by the browser (the page's CSP allows
    no script of ours to be added)."""
    context.add_init_script(path=AXE)
