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
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from app.contract.errors import ProgramError
from app.contract.replies import LAY_OUT, MAKE_EXTRAS, WorkerReply
from app.contract.schemas import GraphData, GraphExtras, GraphRequest, GraphShape
from app.contract.settings import Settings
from app.server.large_json import in_turn
from app.server.layout import LayOut
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
    """A job's answer without its extras, what the server made of its shape, and the job
    process that answered, waiting for its extras to be asked for."""

    data: GraphData
    made: Shaped
    extras: "Answered"


class Answered:
    """A job process that has answered and waits, holding no slot, until its extras are
    asked for or `extras_wait_s` has passed; then it is let go of (killed)."""

    def __init__(self, pool: "EvaluationPool", process: JobProcess | None, grown: int) -> None:
        self.pool = pool
        self.process: JobProcess | None = process
        self.grown = grown  # bytes resident beyond what the process had when its job came
        self.expiry: asyncio.TimerHandle | None = None

    async def made(self) -> Extras | None:
        """The extras, made now; None when the process was let go of before they were
        asked for (the program must run again to make them)."""
        process = self._detach()
        return None if process is None else await self.pool.make_extras(process)

    def let_go(self) -> None:
        """Nobody asked in time, room is needed for another, or its caller needs no extras:
        the process ends."""
        process = self._detach()
        if process is not None:
            process.stop()
            self.pool.answered_ends["unasked"] += 1

    def _detach(self) -> JobProcess | None:
        """The process, no longer waiting (None if it was already taken or let go of)."""
        self.pool.waiting_answered.pop(id(self), None)
        if self.expiry is not None:
            self.expiry.cancel()
        process, self.process = self.process, None
        return process


class JobLayout:
    """Has a job process that sent its graph's shape lay out the drawing (`LayOut`), as a
    layout process would: it is walled the same way and ends with the job, and laying out
    there saves a process. The process sends its details first, kept in `details`; one
    whose layout runs out of time is killed."""

    def __init__(self, pool: "EvaluationPool", process: JobProcess, deadline: float) -> None:
        self.pool = pool
        self.process = process
        self.deadline = deadline
        self.details: WorkerReply | None = None

    async def lay_out(self, job: bytes, timeout: float) -> bytes | None:
        process = self.process
        if not await process.send_async(LAY_OUT + job, self.deadline - time.monotonic()):
            return None
        self.details = await self.pool.receive(process, self.deadline)
        if self.details.details is None:
            return None  # the job failed, and its process has ended
        reply = await process.receive_async(timeout)
        if reply is None:
            process.stop()
        return reply


def evaluation_role(settings: Settings) -> Role:
    """The job processes that run programs, as the zygote makes them."""
    return Role(
        "evaluation",
        "app.worker.entry:prepare_evaluator",
        settings.model_dump_json(),
        settings.worker_memory_mb,
        settings.job_timeout_s,
        # The job process holds its messages to max_answer_bytes in all; its error reply
        # after the answer's last message passed it is small.
        settings.max_answer_bytes + 1024 * 1024,
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
        # Processes that answered, making their extras now: at most `workers` at once.
        self.checking = asyncio.Semaphore(settings.workers)
        # Job processes that answered, by id, oldest first, waiting for their extras to be
        # asked for.
        self.waiting_answered: dict[int, Answered] = {}
        # How the processes that answered ended: "asked" (they made their extras) or
        # "unasked" (let go of, nobody asked in time): read by /metrics.
        self.answered_ends: collections.Counter[str] = collections.Counter()

    async def stop(self) -> None:
        """Refuse new work (/readyz), end the jobs still running, then stop the pool."""
        self.stopping = True
        for answered in list(self.waiting_answered.values()):
            answered.let_go()
        await anyio.to_thread.run_sync(self.processes.stop)

    async def run(
        self,
        request: GraphRequest,
        on_shape: Callable[[GraphShape, LayOut], Awaitable[Shaped]],
    ) -> "Evaluated[Shaped]":
        """Evaluate in a job process of its own: the graph, what `on_shape` made of its shape
        while the process computed the rest (given a way to have the process lay out a
        drawing), and the process, which waits for its extras to be asked for. Its slot is
        let go of with the answer. Raises ProgramError for the program's faults, and
        SaturatedError when too many requests wait for a process."""
        job = request.model_dump_json().encode()
        process = await self._take()
        started = time.monotonic()
        deadline = started + self.settings.job_timeout_s
        done = False
        try:
            if not await process.send_async(job, deadline - time.monotonic()):
                raise self._stopped(process, deadline)
            # Read while the job starts, not before it: /proc is slow to read.
            given = process.resident()
            # Every message is awaited on the event loop, woken by the pipe: the graph is
            # drawn while the process computes the rest, with no thread between.
            reply = await self.receive(process, deadline)
            shape = reply.shape
            if shape is not None:
                drawing = JobLayout(self, process, deadline)
                made = await on_shape(shape, drawing.lay_out)
                if drawing.details is None:
                    reply = await self.receive(process, deadline)
                else:
                    reply = drawing.details
            if reply.fault is not None:
                log.error("a job failed unexpectedly:\n%s", reply.fault)
            if shape is None or reply.details is None:
                raise reply.failure()
            done = True
        finally:
            outcome = process.ended or ("ok" if done else "program_error")
            self.on_evaluated(outcome, time.monotonic() - started)
            # The slot goes to the next job, and the process's successor is forked now, off
            # this request's path, even if this one stays to make the extras.
            self.processes.release(process, end=not done)
        # A process whose layout ran out of time was killed: its extras need another run.
        kept = process if process.alive() else None
        answered = Answered(self, kept, max(process.resident() - given, 0))
        if kept is not None and "gradcheck" not in request.include:
            self._wait_for_asking(answered)  # else the caller asks for them at once
        return Evaluated(GraphData.of(shape, reply.details), made, answered)

    def _wait_for_asking(self, answered: Answered) -> None:
        """`answered` kept for its extras to be asked for, a while; the oldest waiting are
        let go of first when more than `extras_waiting_jobs` would wait, or they would hold
        more than `extras_waiting_mb` beyond what they were given."""
        room = self.settings.extras_waiting_mb * 1024 * 1024
        if self.stopping or self.settings.extras_waiting_jobs == 0 or answered.grown > room:
            answered.let_go()
            return
        waiting = self.waiting_answered
        while waiting and (
            len(waiting) >= self.settings.extras_waiting_jobs
            or sum(other.grown for other in waiting.values()) + answered.grown > room
        ):
            next(iter(waiting.values())).let_go()
        waiting[id(answered)] = answered
        loop = asyncio.get_running_loop()
        answered.expiry = loop.call_later(self.settings.extras_wait_s, answered.let_go)

    async def receive(self, process: JobProcess, deadline: float) -> WorkerReply:
        """The process's next message, parsed (a large one in a thread)."""
        answer = await process.receive_async(deadline - time.monotonic())
        if answer is not None and len(answer) > INLINE_REPLY_BYTES:
            return await in_turn(lambda: self._reply(process, answer, deadline))
        return self._reply(process, answer, deadline)

    async def make_extras(self, process: JobProcess) -> "Extras":
        """The extras of a job process that answered: asked for, then its last message,
        after which the process is let go of. At most `workers` processes make extras at
        once, beside the jobs (else every process waiting to be asked could compute at
        once; in the jobs' slots, answers would wait behind checks). SaturatedError when
        none is free in time (the process is let go of: asked again, the program runs
        again)."""
        try:
            async with asyncio.timeout(self.settings.max_wait_s):
                await self.checking.acquire()
        except TimeoutError:
            process.stop()
            self.answered_ends["asked"] += 1
            raise SaturatedError from None
        deadline = time.monotonic() + self.settings.job_timeout_s
        try:
            if not await process.send_async(MAKE_EXTRAS, deadline - time.monotonic()):
                raise self._stopped(process, deadline)
            reply = await self.receive(process, deadline)
        except ProgramError as error:
            reply = WorkerReply.failed(error)
        except Exception as error:  # a reply that is not one
            log.exception("a job's extras could not be read")
            failure = ProgramError(
                "Evaluation failed", f"its reply could not be read ({type(error).__name__})"
            )
            reply = WorkerReply.failed(failure)
        finally:
            process.stop()  # it has exited after its last message, or is killed now
            self.checking.release()
            self.answered_ends["asked"] += 1
        if reply.fault is not None:
            log.error("a job's extras failed unexpectedly:\n%s", reply.fault)
        if reply.extras is None:
            failure = reply.failure()
            note = f"The gradient check could not be made: {failure.detail}."
            return Extras(GraphExtras(warnings=[note]), complete=False)
        return Extras(reply.extras, complete=True)

    def _reply(self, process: JobProcess, answer: bytes | None, deadline: float) -> WorkerReply:
        if answer is None:
            raise self._stopped(process, deadline)
        return WorkerReply.model_validate_json(answer)

    def _stopped(self, process: JobProcess, deadline: float) -> ProgramError:
        """Why a process gave no answer: out of time, or ended by a limit or a crash (its
        zygote reports a crash to the log by this pid)."""
        timed_out = time.monotonic() >= deadline
        process.ended = "timeout" if timed_out else "killed"
        if not timed_out:
            log.warning("job process %d ended without its answer", process.pid)
        return ProgramError(
            "Limit reached",
            f"the program ran longer than {self.settings.job_timeout_s:g} s and was stopped"
            if timed_out
            else "the program was stopped: it used more memory or CPU than allowed, or one of "
            "PyTorch's calls crashed on its arguments",
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
