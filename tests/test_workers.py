"""The server's end of a job process's pipe, on both event loops uvicorn may run.

The app's other tests go through TestClient, which runs asyncio's own loop; uvicorn runs
uvloop. The same pipe is read on the loop and, for the shape, in the job's thread; every
read and write waits with a deadline, never on the other end.
"""

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import pytest
import uvloop

from app.server.pool import Frame, JobProcess

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}
Run = Callable[[Coroutine[Any, Any, bytes | None]], bytes | None]
MESSAGE_LIMIT = 4 << 20  # the largest message the tests' end reads


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
    """A JobProcess around our end of a pipe, and the other end as a job process has it.
    The process is never stopped: it is this one."""
    ours, theirs = socket.socketpair()
    pidfd = os.pidfd_open(os.getpid())
    pipe = ours.detach()
    their_end = Connection(theirs.detach())
    yield JobProcess(os.getpid(), pidfd, pipe, MESSAGE_LIMIT), their_end
    os.close(pidfd)
    os.close(pipe)
    their_end.close()


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
    """A shape read in a thread after the loop has waited on the same pipe: a message larger
    than the pipe holds arrives in pieces, each waited for."""
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


def test_two_messages_sent_together_are_read_one_at_a_time(
    run: Run, pipe: tuple[JobProcess, Connection]
) -> None:
    """The shape, then the details, often arrive in one read's worth: the first read stops
    at its message's end."""
    worker, theirs = pipe
    theirs.send_bytes(b"shape")
    theirs.send_bytes(b"details" * 10_000)
    assert run(worker.receive_async(5)) == b"shape"
    assert run(worker.receive_async(5)) == b"details" * 10_000


def test_a_message_cut_short_is_none_in_time(run: Run, pipe: tuple[JobProcess, Connection]) -> None:
    """A process that stops half way through a message (killed, or stopped) holds up
    neither the loop nor a thread past the deadline."""
    worker, theirs = pipe
    os.write(theirs.fileno(), Frame.SHORT.pack(1_000) + b"only the start")
    started = time.monotonic()
    assert run(worker.receive_async(0.2)) is None
    assert worker.receive(0.2) is None
    assert 0.2 <= time.monotonic() - started < 2


@pytest.mark.parametrize(
    "header",
    [Frame.SHORT.pack(MESSAGE_LIMIT + 1), Frame.SHORT.pack(-1) + Frame.LONG.pack(1 << 40)],
    ids=["over the limit", "a terabyte"],
)
def test_a_message_larger_than_a_process_may_send_is_refused_at_its_header(
    run: Run, pipe: tuple[JobProcess, Connection], header: bytes
) -> None:
    """A process a program took over could claim a terabyte and send until its time ran
    out, the server holding every byte: a header over the role's limit ends the reading at
    once (the process is then let go of). Up to the limit, a message is read whole (above)."""
    worker, theirs = pipe
    os.write(theirs.fileno(), header + b"x" * 1000)
    started = time.monotonic()
    assert run(worker.receive_async(5)) is None
    assert worker.receive(5) is None
    assert time.monotonic() - started < 1  # not at the deadline


def test_a_send_larger_than_the_pipe_waits_on_the_loop_not_in_it(
    run: Run, pipe: tuple[JobProcess, Connection]
) -> None:
    """A message larger than the pipe holds is written as the other end reads; while it
    waits the loop runs other work; and to a process that does not read, it gives up."""
    worker, theirs = pipe
    message = bytes(range(256)) * 16_384  # 4 MB
    sending = threading.Event()
    received: list[bytes] = []

    def read_later() -> None:
        sending.wait(5)
        time.sleep(0.3)
        received.append(theirs.recv_bytes())

    async def send_while_ticking() -> bytes | None:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.get_running_loop().create_task(tick())
        sending.set()
        sent = await worker.send_async(message, 5)
        ticker.cancel()
        assert ticks >= 5  # the loop ran while the reader slept
        return b"sent" if sent else None

    reader = threading.Thread(target=read_later)
    reader.start()
    assert run(send_while_ticking()) == b"sent"
    reader.join()
    assert received == [message]
    started = time.monotonic()
    assert not worker.send(message, 0.2)  # nobody reads now
    assert time.monotonic() - started < 2
