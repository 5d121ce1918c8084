"""The pool of job processes both kinds of job share (`app.server.pool.ProcessPool`): processes
handed out in turn within their slots, replaced after each job, and nothing that waits for a
process, a zygote or a pipe ever holds up the event loop."""

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient

from app.contract.settings import Settings
from app.main import create_app
from app.server import pool as pool_module
from app.server.layout import LayoutService
from app.server.pool import ProcessPool, Role
from app.server.workers import EvaluationPool
from tests.echo_role import CRASH
from tests.loops import on_a_loop

T = TypeVar("T")
# A zygote that takes this long to prepare, as the evaluation zygote takes to warm torch.
SLOW_START_S = 2.0
# Longest the event loop may go without running a callback: far less than the wait above,
# with room for a busy machine's scheduling.
STALL_S = 0.75
NORMAL = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\ny.backward()"


def echo_pool(slots: int, limit: bool = True, start_s: float = 0.0) -> ProcessPool:
    return ProcessPool(
        Role("echo", "tests.echo_role:prepare_echo", str(start_s), 256, 5.0), slots, limit
    )


class Stalls:
    """The longest time the running loop went without running a 10 ms ticker."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.01)
            last = now

    def __enter__(self) -> "Stalls":
        self.task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()


def test_starting_taking_and_stopping_never_stall_the_loop() -> None:
    """The zygote's start (seconds, here a sleep), the wait for its first processes, a take
    that waits for a warm process, a job, and the pool's stop: the loop ticks throughout."""

    async def life() -> tuple[float, float, bytes | None]:
        pool = echo_pool(1, start_s=SLOW_START_S)
        with Stalls() as stalls:
            started = time.monotonic()
            pool.start(asyncio.get_running_loop())
            taken = await pool.take_async(30)  # before any process is warm: it waits
            waited = time.monotonic() - started
            assert taken is not None
            answer = None
            if await taken.send_async(b"hello", 5):
                answer = await taken.receive_async(5)
            pool.release(taken)
            await asyncio.to_thread(pool.wait_ready, 30)
            await asyncio.to_thread(pool.stop)
        return stalls.longest, waited, answer

    longest, waited, answer = on_a_loop(life())
    assert answer == b"hello"
    assert waited >= SLOW_START_S  # the loop did wait that long for a process...
    assert longest < STALL_S  # ...and ran all the while


def test_blocking_calls_refuse_the_loop_the_pool_serves() -> None:
    """What can block for seconds raises on the pool's own loop, wherever it is called
    from, rather than hold every request up; from a thread it is what it always was."""
    layout = LayoutService(helpers=1, memory_mb=1_024)

    async def on_the_loop() -> list[str]:
        pool = echo_pool(1)
        pool.start(asyncio.get_running_loop())
        layout.processes.start(asyncio.get_running_loop())
        refused = []
        calls: list[Callable[[], object]] = [
            lambda: pool.wait_ready(30),
            lambda: pool.take(1),
            pool.stop,
        ]
        for call in calls:
            try:
                call()
            except RuntimeError as error:
                refused.append(str(error))
        await asyncio.to_thread(pool.wait_ready, 30)
        drawn = await layout.render("digraph { a -> b }", 30)  # awaited: it blocks nothing
        assert drawn.svg is not None
        await asyncio.to_thread(pool.stop)
        await asyncio.to_thread(layout.processes.stop)
        return refused

    refused = on_a_loop(on_the_loop())
    assert len(refused) == 3
    assert all("blocks" in reason for reason in refused)


@pytest.fixture(scope="module")
def pool_of_one() -> Iterator[ProcessPool]:
    pool = echo_pool(1)
    pool.start()
    pool.wait_ready(30)
    yield pool
    pool.stop()


def test_jobs_beyond_the_slots_wait_their_turn(pool_of_one: ProcessPool) -> None:
    """One slot: the second taker waits while the first job runs, and gets a process as
    soon as it ends, before a third that came later."""
    pool = pool_of_one

    async def turns() -> list[str]:
        order: list[str] = []
        first = await pool.take_async(5)
        assert first is not None

        async def take(name: str) -> None:
            process = await pool.take_async(5)
            assert process is not None
            order.append(name)
            await asyncio.sleep(0.05)
            pool.release(process)

        second = asyncio.create_task(take("second"))
        await asyncio.sleep(0.05)
        third = asyncio.create_task(take("third"))
        await asyncio.sleep(0.2)
        assert order == []  # the slot is held
        assert pool.state()["waiting"] == 2
        order.append("first")
        pool.release(first)
        await asyncio.gather(second, third)
        return order

    assert on_a_loop(turns()) == ["first", "second", "third"]
    assert pool.state()["waiting"] == 0
    assert pool.state()["busy"] == 0


def test_a_taker_that_runs_out_of_time_leaves_the_line(pool_of_one: ProcessPool) -> None:
    pool = pool_of_one
    held = pool.take(5)
    assert held is not None
    try:
        started = time.monotonic()
        assert pool.take(0.2) is None
        assert 0.2 <= time.monotonic() - started < 2
        assert pool.state()["waiting"] == 0
    finally:
        pool.release(held)
    again = pool.take(5)  # the line is not stuck behind the one that left
    assert again is not None
    pool.release(again)


def test_without_a_limit_every_warm_process_is_handed_out() -> None:
    """The layout's use: a layout that runs away holds its own process, not the others'."""
    pool = echo_pool(1, limit=False)
    pool.start()
    try:
        pool.wait_ready(30)
        taken = [pool.take(5) for _ in range(pool.size)]
        assert all(process is not None for process in taken)
        assert pool.state()["busy"] == pool.size
        for process in taken:
            assert process is not None
            pool.release(process)
    finally:
        pool.stop()
    assert pool.restart_counts()["completed"] == pool.size


def test_healthz_answers_while_the_evaluation_zygote_is_replaced(client: TestClient) -> None:
    """The zygote is killed; the next job's successor is asked of it, and the pool's thread
    spawns another, which warms torch again for seconds. /healthz answers at once all the
    while, and the pool recovers."""
    processes = client.app.state.services.pool.processes  # type: ignore[attr-defined]
    killed = processes.zygote
    assert killed is not None
    os.kill(killed.pid, signal.SIGKILL)
    started = time.monotonic()
    assert client.post("/api/graph", json={"code": f"{NORMAL}\n# {started}"}).status_code == 200
    slowest, answered = 0.0, 0
    deadline = started + 120
    # Until another zygote has warmed up and answers.
    while processes.zygote is killed or processes.control is None:
        assert time.monotonic() < deadline
        asked = time.monotonic()
        assert client.get("/healthz").status_code == 200
        slowest = max(slowest, time.monotonic() - asked)
        answered += 1
        time.sleep(0.02)
    assert time.monotonic() - started > 2.0  # long enough to have held a blocked loop up
    assert answered > 10
    assert slowest < 1.0
    code = f"{NORMAL}\n# after {started}"
    assert client.post("/api/graph", json={"code": code}).status_code == 200


def test_a_zygote_that_stops_answering_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zygote stopped (SIGSTOP, a debugger, a frozen cgroup) would leave the pool's thread
    waiting for a fork for ever: past FORK_TIMEOUT_S it is killed and another spawned."""
    monkeypatch.setattr(pool_module, "FORK_TIMEOUT_S", 0.5)
    pool = echo_pool(1)
    pool.start()
    try:
        pool.wait_ready(30)
        stuck = pool.zygote
        assert stuck is not None
        os.kill(stuck.pid, signal.SIGSTOP)
        process = pool.take(5)
        assert process is not None
        pool.release(process)  # its successor is asked of the stopped zygote
        deadline = time.monotonic() + 30
        while pool.restart_counts().get("zygote", 0) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(pool.size):  # every process comes from the new zygote in time
            process = pool.take(30)
            assert process is not None
            pool.release(process)
        assert pool.zygote is not stuck
        assert stuck.poll() is not None  # killed, not left stopped
    finally:
        pool.stop()


MATRIX_PRODUCTS = """import torch
a = torch.randn(512, 512, requires_grad=True)
b = a @ a
for _ in range(4):
    b = b @ a
loss = b.mean()
"""


def test_a_job_computes_on_one_thread() -> None:
    """A job process is its main thread, waiting, and the thread that runs the job
    (`app.server.pool.in_own_arena`); OpenMP's thread count is each thread's own, so the
    job's thread must be told one thread too, or a matrix product would start a team of
    OpenMP threads beside the other jobs' processes."""
    settings = Settings(workers=1, cache_entries=0, extras_wait_s=30)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answer = client.post("/api/graph", json={"code": MATRIX_PRODUCTS})
        assert answer.status_code == 200
        pool: EvaluationPool = client.app.state.services.pool  # type: ignore[attr-defined]
        (waiting,) = pool.waiting_answered.values()  # it waits for its extras to be asked
        assert waiting.process is not None
        assert len(os.listdir(f"/proc/{waiting.process.pid}/task")) == 2


def test_a_job_process_that_crashes_is_reported_to_the_log(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A job process killed by its own fault (a segfault in a native kernel, a division the
    processor refuses) is named in the server's log by its pid, by the zygote that reaps it;
    the server sees only a pipe that closed."""
    pool = echo_pool(1)
    pool.start()  # the zygote's standard error is this test's, as a server's is its log's
    try:
        pool.wait_ready(30)

        async def crash() -> tuple[int, bytes | None]:
            process = await pool.take_async(5)
            assert process is not None
            assert await process.send_async(CRASH, 5)
            answer = await process.receive_async(5)
            pool.release(process)
            return process.pid, answer

        pid, answer = on_a_loop(crash())
        assert answer is None
        deadline, said = time.monotonic() + 5, ""
        while f"job process {pid} crashed (SIGSEGV)" not in said:
            assert time.monotonic() < deadline, f"the crash was not reported: {said!r}"
            time.sleep(0.05)
            said += capfd.readouterr().err
    finally:
        pool.stop()
