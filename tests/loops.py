"""Coroutines run from a test's synchronous body."""

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def on_a_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on a new event loop in a thread of its own: the browser tests' driver
    (Playwright) may keep an event loop running in the test's thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
