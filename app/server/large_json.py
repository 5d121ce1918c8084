"""Large JSON parsed or written in a thread, one at a time.

pydantic-core holds the GIL for the whole of one parse or dump (about 40 ms a megabyte
here), so a thread keeps the event loop from running for as long as it takes, and two at
once for both. Taken in turn, the loop waits at most for one: an answer can be up to
`max_answer_bytes`, and /healthz must not stall for a second behind two of them."""

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

_turn = threading.Lock()


async def in_turn(work: Callable[[], T]) -> T:
    """`work` (a parse or a dump of large JSON) in a thread, after any other's."""

    def taken() -> T:
        with _turn:
            return work()

    return await anyio.to_thread.run_sync(taken)
