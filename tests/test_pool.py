"""The process pool's zygote forks job processes that run their role's prefault only when
the server says one is worth its CPU."""

import queue
from collections.abc import Callable

from app.pool import JobProcess, ProcessPool, Role


def prepare_recorder(_: str) -> "Recorder":
    return Recorder()


class Recorder:
    """A job process that answers every job with what its warm-up was told."""

    def __init__(self) -> None:
        self.prefaulted: bool | None = None

    def warm(self, prefault: bool) -> None:
        self.prefaulted = prefault

    def run(self, job: bytes, send: Callable[[bytes], None]) -> bytes:
        return b"prefaulted" if self.prefaulted else b"not prefaulted"


def _answer(ready: "queue.SimpleQueue[JobProcess]") -> bytes | None:
    process = ready.get(timeout=60)
    try:
        assert process.send(b"job")
        return process.receive(30)
    finally:
        process.stop()


def test_a_process_skips_its_prefault_when_the_server_is_hurried() -> None:
    ready: queue.SimpleQueue[JobProcess] = queue.SimpleQueue()
    unhurried = [False]
    role = Role("recorder", "tests.test_pool:prepare_recorder", "", 512, 5.0)
    pool = ProcessPool(role, 1, ready.put, prefault=lambda: unhurried[0])
    pool.start()
    try:
        pool.wait_ready(60)
        # At start nothing waits for a process: the first ones prefault whatever is said.
        assert _answer(ready) == b"prefaulted"
        pool.refill()
        assert _answer(ready) == b"not prefaulted"
        unhurried[0] = True
        pool.refill()
        assert _answer(ready) == b"prefaulted"
    finally:
        pool.stop()
