"""Isolation: every evaluation runs in a pre-started worker process with hard limits.

Workers are spawned (not forked) so they share no state with the server, run one torch
thread, and live under RLIMIT_AS/CPU/FSIZE/NOFILE/CORE. The parent enforces the wall-clock
limit from outside: a worker that does not answer in time is killed and replaced. Jobs and
answers cross the pipe as JSON, never as pickles of the worker's choosing.
"""

import asyncio
import gc
import logging
import multiprocessing
import os
import resource
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TypeVar

import anyio
from pydantic import BaseModel

from app.sandbox.errors import ProgramError
from app.schemas import GraphData, GraphDetails, GraphRequest, GraphShape
from app.settings import Limits, Settings

log = logging.getLogger(__name__)
READY = b"ready"
WARM_UP = """
import torch
import torch.nn.functional as F
from torch import nn
model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.ones(1, 2, requires_grad=True)
loss = F.mse_loss(model(x), torch.zeros(1, 2)) + (x * 2).sum()
loss.backward()
optimizer.step()
"""
STARTUP_TIMEOUT_S = 120.0
# Container allocations that trigger a collection during a job (CPython's default is 700,
# about one collection, 0.2-0.9 ms, per seed-sized request); cyclic garbage still cannot grow
# without bound within a job.
GC_FIRST_GENERATION = 20_000
Shaped = TypeVar("Shaped")  # what the server makes of a graph's shape (its drawing)


class SaturatedError(Exception):
    """Every worker is busy and too many requests are already waiting."""


class ErrorFields(BaseModel):
    """A ProgramError as it crosses the pipe."""

    title: str
    detail: str
    line: int | None
    column: int | None
    kind: str


class WorkerReply(BaseModel):
    """One message of a worker about a job. A job that succeeds gets two: the graph's shape
    as soon as it is known (the server starts drawing it), then the rest of its details.
    A job that fails gets one, with the error."""

    shape: GraphShape | None = None
    details: GraphDetails | None = None
    error: ErrorFields | None = None
    recycle: bool = False

    @classmethod
    def failed(cls, error: ProgramError, recycle: bool = False) -> "WorkerReply":
        # Field by field: `raised` holds the program's own values, which stay in the worker.
        fields = {name: getattr(error, name) for name in ErrorFields.model_fields}
        return cls(error=ErrorFields(**fields), recycle=recycle)

    def failure(self) -> ProgramError:
        """The program's error; a failed evaluation when the answer lacks a part."""
        if self.error is not None:
            return ProgramError(**self.error.model_dump())
        return ProgramError(
            "Evaluation failed", "the worker sent no answer", kind="evaluation-failed"
        )


# Inside the worker -----------------------------------------------------------------------


def worker_main(connection: Connection, settings_json: str) -> None:
    """Entry point of a worker process: limit ourselves, warm up, then serve jobs."""
    import torch

    from app.evaluate import evaluate

    settings = Settings.model_validate_json(settings_json)
    torch.set_num_threads(1)
    # Lazy imports inside torch probe the temp directory by writing a file; do that now,
    # before RLIMIT_FSIZE=0 turns any write into a fatal signal.
    tempfile.tempdir = tempfile.gettempdir()
    evaluate(GraphRequest(code=WARM_UP), settings.limits)
    _limit_resources(settings)
    # Collect garbage between jobs, not during them: torch's few hundred thousand objects are
    # frozen out of every collection, and a job rarely fills the raised first generation.
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION)
    connection.send_bytes(READY)
    while True:
        try:
            job = connection.recv_bytes()
        except EOFError:
            return
        _limit_cpu(settings.job_timeout_s)
        connection.send_bytes(_answer(job, settings, connection.send_bytes))
        gc.collect()  # while the server has the answer and this worker would be idle


def _limit_resources(settings: Settings) -> None:
    memory = settings.worker_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def _limit_cpu(seconds: float) -> None:
    """CPU time is cumulative per process: allow this job its share on top of what was used."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (spent + int(seconds) + 2, hard))


def _answer(job: bytes, settings: Settings, send: Callable[[bytes], None]) -> bytes:
    """The job's last message; `send` sends the shape before it. `recycle` asks the server
    to replace this worker after a fault (an unexpected exception, or memory still held once
    the job is done)."""
    reply = _run_job(job, settings.limits, send)
    reply.recycle = reply.recycle or _resident_mb() > settings.worker_memory_mb // 2
    # pydantic writes JSON in one pass in Rust: a third of the time json.dumps of a dumped
    # model took, on the server's side too (model_validate_json).
    return reply.model_dump_json().encode()


def _run_job(job: bytes, limits: Limits, send: Callable[[bytes], None]) -> WorkerReply:
    """The last reply, with `recycle` set when the worker faulted."""
    from app.evaluate import evaluate

    def send_shape(shape: GraphShape) -> None:
        send(WorkerReply(shape=shape).model_dump_json().encode())

    try:
        graph = evaluate(GraphRequest.model_validate_json(job), limits, send_shape)
        return WorkerReply(details=graph.details())
    except ProgramError as error:
        return WorkerReply.failed(error)
    except Exception as error:
        traceback.print_exc()
        failure = ProgramError(
            "Evaluation failed",
            f"the program could not be run: {type(error).__name__}: {str(error)[:500]}",
            kind="evaluation-failed",
        )
        return WorkerReply.failed(failure, recycle=True)


def _resident_mb() -> int:
    """Memory the worker holds now (not its peak): what the next job would start from."""
    with open("/proc/self/statm", "rb") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // (1024 * 1024)


# In the server ---------------------------------------------------------------------------


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():  # a reader callback can run again before its task resumes
        future.set_result(None)


@dataclass
class Worker:
    process: BaseProcess
    connection: Connection
    jobs: int = 0
    ready: bool = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.connection.poll(STARTUP_TIMEOUT_S) or self.connection.recv_bytes() != READY:
            raise RuntimeError("worker did not start")
        self.ready = True

    def call(self, job: bytes, timeout: float) -> bytes | None:
        """Send a job and wait for its answer; None if none came in time or the worker died."""
        return self.receive(timeout) if self.send(job) else None

    def send(self, job: bytes) -> bool:
        """False if the worker died."""
        self.wait_ready()
        self.jobs += 1
        try:
            self.connection.send_bytes(job)
        except OSError:
            return False
        return True

    def receive(self, timeout: float) -> bytes | None:
        """The worker's next message; None if none came in time or the worker died."""
        try:
            if self.connection.poll(max(timeout, 0)):
                return self.connection.recv_bytes()
        except (EOFError, OSError):
            pass
        return None

    async def receive_async(self, timeout: float) -> bytes | None:
        """`receive` on the event loop: woken by the pipe itself, with no thread between."""
        loop = asyncio.get_running_loop()
        descriptor = self.connection.fileno()
        try:
            async with asyncio.timeout(max(timeout, 0)):
                # The loop may report a pipe readable that is not (yet): wait until it is.
                while not self.connection.poll(0):
                    readable: asyncio.Future[None] = loop.create_future()
                    loop.add_reader(descriptor, _resolve, readable)
                    try:
                        await readable
                    finally:
                        loop.remove_reader(descriptor)
                        # uvloop made the pipe non-blocking; Connection reads need it blocking,
                        # or a message read while it still arrives fails half way.
                        os.set_blocking(descriptor, True)
        except TimeoutError:
            return None
        except (EOFError, OSError):
            pass  # the worker died: receive says so
        return self.receive(0)

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.connection.close()


class WorkerPool:
    """A fixed number of workers; requests wait for one, up to a limit, then get 503."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.idle: asyncio.Queue[Worker] = asyncio.Queue()
        self.waiting = 0
        self.workers: list[Worker] = []
        self.starting: set[asyncio.Task[None]] = set()

    def _spawn(self) -> Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=worker_main, args=(child, self.settings.model_dump_json()), daemon=True
        )
        process.start()
        child.close()
        worker = Worker(process, parent)
        self.workers.append(worker)
        return worker

    async def start(self) -> None:
        for _ in range(self.settings.workers):
            self.idle.put_nowait(self._spawn())

    async def stop(self) -> None:
        for task in self.starting:
            task.cancel()
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    async def wait_ready(self) -> None:
        """Block until every worker has imported torch (used by tests and the benchmark)."""
        for worker in list(self.workers):
            await anyio.to_thread.run_sync(worker.wait_ready)

    async def run(
        self, request: GraphRequest, on_shape: Callable[[GraphShape], Shaped]
    ) -> tuple[GraphData, Shaped]:
        """Evaluate in a worker: the graph, and what `on_shape` made of its shape while the
        worker computed the rest. Raises ProgramError for the program's faults, and
        SaturatedError when too many requests wait for a worker."""
        job = request.model_dump_json().encode()
        worker = await self._take_worker()
        deadline = time.monotonic() + self.settings.job_timeout_s
        try:
            # Sent from the event loop, so that the thread which waits for the shape wakes up
            # while the worker computes rather than before it starts.
            if not worker.send(job):
                raise self._stopped(deadline)
            reply, shaped = await anyio.to_thread.run_sync(
                self._shape_and_draw, worker, deadline, on_shape
            )
            if shaped is not None:
                # The rest arrives on the event loop: no thread to wake and hand it back.
                answer = await worker.receive_async(deadline - time.monotonic())
                reply = self._reply(answer, deadline)
        except BaseException:
            self._replace(worker)
            raise
        if reply.recycle or worker.jobs >= self.settings.worker_max_jobs:
            self._replace(worker)
        else:
            self.idle.put_nowait(worker)
        if shaped is None or reply.details is None:
            raise reply.failure()
        shape, made = shaped
        return GraphData.of(shape, reply.details), made

    def _shape_and_draw(
        self, worker: Worker, deadline: float, on_shape: Callable[[GraphShape], Shaped]
    ) -> tuple[WorkerReply, tuple[GraphShape, Shaped] | None]:
        """In a thread: the shape, and `on_shape` run on it while the worker computes the
        rest (or the failed job's only reply)."""
        reply = self._reply(worker.receive(deadline - time.monotonic()), deadline)
        if reply.shape is None:
            return reply, None
        return reply, (reply.shape, on_shape(reply.shape))

    def _reply(self, answer: bytes | None, deadline: float) -> WorkerReply:
        if answer is None:
            raise self._stopped(deadline)
        return WorkerReply.model_validate_json(answer)

    def _stopped(self, deadline: float) -> ProgramError:
        """Why a worker gave no answer: out of time, or killed by a limit (or dead)."""
        timed_out = time.monotonic() >= deadline
        return ProgramError(
            "Limit reached",
            f"the program ran longer than {self.settings.job_timeout_s:g} s and was stopped"
            if timed_out
            else "the program was stopped: it used more memory or CPU than allowed",
            kind="limit",
        )

    async def _take_worker(self) -> Worker:
        """A live idle worker, waiting at most max_wait_s, or SaturatedError."""
        if self.idle.empty() and self.waiting >= self.settings.max_waiting:
            raise SaturatedError
        self.waiting += 1
        try:
            async with asyncio.timeout(self.settings.max_wait_s):
                while True:
                    worker = await self.idle.get()
                    if worker.process.is_alive():
                        return worker
                    # Killed while idle (the OOM killer, an operator): not this program's fault.
                    log.warning("an idle worker had died; replacing it")
                    self._replace(worker)
        except TimeoutError:
            raise SaturatedError from None
        finally:
            self.waiting -= 1

    def _replace(self, worker: Worker) -> None:
        """Kill `worker` and start another, which takes jobs once it has imported torch:
        until then requests go to the workers that are ready instead of waiting on it."""
        worker.stop()
        self.workers.remove(worker)
        task = asyncio.create_task(self._start_when_ready(self._spawn()))
        self.starting.add(task)
        task.add_done_callback(self.starting.discard)

    async def _start_when_ready(self, worker: Worker) -> None:
        try:
            await anyio.to_thread.run_sync(worker.wait_ready)
        except (RuntimeError, EOFError, OSError):
            log.exception("a replacement worker did not start; trying another")
            await asyncio.sleep(1.0)
            self._replace(worker)
            return
        self.idle.put_nowait(worker)
