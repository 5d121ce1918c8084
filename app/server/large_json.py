"""The server's heavy work in a thread, one piece at a time: large JSON parsed or written, a
large graph's view and DOT built, a large drawing decoded or hashed.

pydantic-core holds the GIL for the whole of one parse or dump (about 40 ms a megabyte
here), so a thread keeps the event loop from running for as long as it takes, and two at
once for both; pure Python work (a view of a graph of thousands of nodes) hands the GIL
round among every thread that wants it, so twenty views at once leave the loop a twentieth
of the time. Taken in turn, the loop shares the GIL with one piece at most: an answer can
be up to `max_answer_bytes`, a request can ask for a view of a kept graph of any size, and
/healthz must not stall for a second behind a burst of them."""

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

_turn = threading.Lock()


async def in_turn(work: Callable[[], T]) -> T:
    """`work` (heavy: see above) in a thread, after any other's."""

    def taken() -> T:
        with _turn:
            return work()

    return await anyio.to_thread.run_sync(taken)
