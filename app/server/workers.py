"""Isolation: every evaluation runs in a job process of its own, walled and limited.

Job processes are forked ahead of time by a zygote that imported and warmed torch
(`app.server.pool`), run one torch thread, live under the kernel's walls (`app.server.wall`) and
RLIMIT_AS/CPU/FSIZE/NOFILE/CORE, run exactly one job and exit. The server enforces the
wall-clock limit from outside: a process that does not answer in time is killed. Jobs and
answers cross the pipe as JSON (app.contract.replies), never as pickles of the process's
choosing; an answer is bounded in size by the process that writes it. What runs inside the
job process is app.worker.entry, which this module names only in the pool's role.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from app.contract.errors import ProgramError
from app.contract.replies import WorkerReply
from app.contract.schemas import GraphData, GraphExtras, GraphRequest, GraphShape
from app.contract.settings import Settings
from app.server.pool import JobProcess, ProcessPool, Role

log = logging.getLogger(__name__)
# A reply larger than this is parsed in a thread, not on the event loop.
INLINE_REPLY_BYTES = 256 * 1024
Shaped = TypeVar("Shaped")  # what the server makes of a graph's shape (its drawing)


class SaturatedError(Exception):
    """Every worker is busy and too many requests are already waiting."""


@dataclass(frozen=True)
class Extras:
    """A job's extras; not `complete` when the process could not make them (out of time,
    killed by a limit), which a note in their warnings says."""

    value: GraphExtras
    complete: bool


@dataclass(frozen=True)
class Evaluated(Generic[Shaped]):
    """A job's answer without its extras, what the server made of its shape, and the task
    that brings the extras (it holds the job's process and slot until then)."""

    data: GraphData
    made: Shaped
    extras: "asyncio.Task[Extras]"


def evaluation_role(settings: Settings) -> Role:
    """The job processes that run programs, as the zygote makes them."""
    return Role(
        "evaluation",
        "app.worker.entry:prepare_evaluator",
        settings.model_dump_json(),
        settings.worker_memory_mb,
        settings.job_timeout_s,
    )


class EvaluationPool:
    """Evaluation job processes (`app.server.pool.ProcessPool`): at most `workers` jobs at once;
    requests wait for one in turn, up to a limit, then get 503."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = False
        # Told each job's time to its answer and outcome (the app's metrics).
        self.on_evaluated: Callable[[str, float], None] = lambda outcome, seconds: None
        self.processes = ProcessPool(evaluation_role(settings), settings.workers)
        self.finishing: set[asyncio.Task[Extras]] = set()  # jobs that answered, still running

    async def stop(self) -> None:
        """Refuse new work (/readyz), end the jobs still running, then stop the pool."""
        self.stopping = True
        for task in list(self.finishing):
            task.cancel()
        await anyio.to_thread.run_sync(self.processes.stop)

    async def run(
        self, request: GraphRequest, on_shape: Callable[[GraphShape], Shaped]
    ) -> "Evaluated[Shaped]":
        """Evaluate in a job process of its own: the graph, what `on_shape` made of its shape
        while the process computed the rest, and a task that brings the extras. The process,
        and its slot, are held until the extras came (or the job's time ran out). Raises
        ProgramError for the program's faults, and SaturatedError when too many requests
        wait for a process."""
        job = request.model_dump_json().encode()
        process = await self._take()
        started = time.monotonic()
        deadline = started + self.settings.job_timeout_s
        handed_over = False
        try:
            # Sent from the event loop, so that the thread which waits for the shape wakes up
            # while the process computes rather than before it starts.
            if not await process.send_async(job, deadline - time.monotonic()):
                raise self._stopped(process, deadline)
            reply, shaped = await anyio.to_thread.run_sync(
                self._shape_and_draw, process, deadline, on_shape
            )
            if shaped is not None:
                # The rest arrives on the event loop: no thread to wake and hand it back.
                reply = await self._receive(process, deadline)
            if reply.fault is not None:
                log.error("a job failed unexpectedly:\n%s", reply.fault)
            if shaped is None or reply.details is None:
                raise reply.failure()
            extras = asyncio.ensure_future(self._extras(process, deadline))
            handed_over = True
        finally:
            outcome = process.ended or ("ok" if handed_over else "program_error")
            self.on_evaluated(outcome, time.monotonic() - started)
            if not handed_over:
                self.processes.release(process)
        self.finishing.add(extras)
        extras.add_done_callback(self.finishing.discard)
        shape, made = shaped
        return Evaluated(GraphData.of(shape, reply.details), made, extras)

    async def _receive(self, process: JobProcess, deadline: float) -> WorkerReply:
        answer = await process.receive_async(deadline - time.monotonic())
        if answer is not None and len(answer) > INLINE_REPLY_BYTES:
            return await anyio.to_thread.run_sync(self._reply, process, answer, deadline)
        return self._reply(process, answer, deadline)

    async def _extras(self, process: JobProcess, deadline: float) -> "Extras":
        """The job's last message, after which the process is let go of."""
        try:
            reply = await self._receive(process, deadline)
        except ProgramError as error:
            reply = WorkerReply.failed(error)
        except Exception as error:  # a reply that is not one: nobody awaits this task's error
            log.exception("a job's extras could not be read")
            failure = ProgramError(
                "Evaluation failed", f"its reply could not be read ({type(error).__name__})"
            )
            reply = WorkerReply.failed(failure)
        finally:
            # Its successor is forked now, off this request's path and CPU; the spares cover
            # the requests that come meanwhile.
            self.processes.release(process)
        if reply.fault is not None:
            log.error("a job's extras failed unexpectedly:\n%s", reply.fault)
        if reply.extras is None:
            failure = reply.failure()
            note = f"The gradient check could not be made: {failure.detail}."
            return Extras(GraphExtras(warnings=[note]), complete=False)
        return Extras(reply.extras, complete=True)

    def _shape_and_draw(
        self, process: JobProcess, deadline: float, on_shape: Callable[[GraphShape], Shaped]
    ) -> tuple[WorkerReply, tuple[GraphShape, Shaped] | None]:
        """In a thread: the shape, and `on_shape` run on it while the process computes the
        rest (or the failed job's only reply)."""
        reply = self._reply(process, process.receive(deadline - time.monotonic()), deadline)
        if reply.shape is None:
            return reply, None
        return reply, (reply.shape, on_shape(reply.shape))

    def _reply(self, process: JobProcess, answer: bytes | None, deadline: float) -> WorkerReply:
        if answer is None:
            raise self._stopped(process, deadline)
        return WorkerReply.model_validate_json(answer)

    def _stopped(self, process: JobProcess, deadline: float) -> ProgramError:
        """Why a process gave no answer: out of time, or killed by a limit (or dead)."""
        timed_out = time.monotonic() >= deadline
        process.ended = "timeout" if timed_out else "killed"
        return ProgramError(
            "Limit reached",
            f"the program ran longer than {self.settings.job_timeout_s:g} s and was stopped"
            if timed_out
            else "the program was stopped: it used more memory or CPU than allowed",
            slug="limit",
        )

    async def _take(self) -> JobProcess:
        """A live warm process once fewer than `workers` jobs run, waiting at most
        max_wait_s, or SaturatedError (`run` releases it)."""
        processes = self.processes
        if processes.busy >= processes.slots and processes.waiting >= self.settings.max_waiting:
            raise SaturatedError
        process = await processes.take_async(self.settings.max_wait_s)
        if process is None:
            raise SaturatedError
        return process
