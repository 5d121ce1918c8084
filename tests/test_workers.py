"""The server's end of a worker's pipe, on both event loops uvicorn may run.

The app's other tests go through TestClient, which runs asyncio's own loop; uvicorn runs
uvloop, whose readers change the pipe's mode under the blocking reads of the job's thread.
"""

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import pytest
import uvloop

from app.server.pool import JobProcess

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}
Run = Callable[[Coroutine[Any, Any, bytes | None]], bytes | None]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Run:
    """Runs a coroutine to its end on a new loop of that kind, in a thread of its own: the
    browser tests' Playwright keeps a loop running in the main thread."""

    def run_in_thread(coroutine: Coroutine[Any, Any, bytes | None]) -> bytes | None:
        def on_its_loop() -> bytes | None:
            with asyncio.Runner(loop_factory=LOOPS[request.param]) as runner:
                return runner.run(coroutine)

        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(on_its_loop).result()

    return run_in_thread


@pytest.fixture
def pipe() -> Iterator[tuple[JobProcess, Connection]]:
    """A JobProcess around our end of a pipe, and the other end, where a job process would
    be. The process is never stopped: it is this one."""
    ours, theirs = multiprocessing.Pipe()
    pidfd = os.pidfd_open(os.getpid())
    yield JobProcess(os.getpid(), pidfd, ours, ready=True), theirs
    os.close(pidfd)
    ours.close()
    theirs.close()


def _send_later(connection: Connection, message: bytes, delay_s: float) -> threading.Thread:
    def send() -> None:
        time.sleep(delay_s)
        connection.send_bytes(message)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_a_message_that_comes_later_wakes_the_loop(
    run: Run, pipe: tuple[JobProcess, Connection]
) -> None:
    worker, theirs = pipe
    sender = _send_later(theirs, b"details", 0.05)
    assert run(worker.receive_async(5)) == b"details"
    sender.join()


def test_a_large_message_is_read_whole_by_a_thread_after_the_loop_waited(
    run: Run, pipe: tuple[JobProcess, Connection]
) -> None:
    """The next job's shape is read with blocking reads: a message larger than the pipe holds
    arrives in pieces, and a pipe left non-blocking failed half way through it."""
    worker, theirs = pipe
    sender = _send_later(theirs, b"details", 0.05)
    assert run(worker.receive_async(5)) == b"details"
    sender.join()
    shape = bytes(range(256)) * 8_192  # 2 MB, 32 times what a pipe holds
    sender = _send_later(theirs, shape, 0.0)
    assert worker.receive(5) == shape
    sender.join()


def test_no_message_in_time_is_none(run: Run, pipe: tuple[JobProcess, Connection]) -> None:
    worker, _ = pipe
    started = time.monotonic()
    assert run(worker.receive_async(0.1)) is None
    assert 0.1 <= time.monotonic() - started < 2


def test_a_closed_pipe_is_none(run: Run, pipe: tuple[JobProcess, Connection]) -> None:
    worker, theirs = pipe
    theirs.close()
    assert run(worker.receive_async(5)) is None
