"""Isolation: every evaluation runs in a job process of its own, walled and limited.

Job processes are forked ahead of time by a zygote that imported and warmed torch
(`app.pool`), run one torch thread, live under the kernel's walls (`app.wall`) and
RLIMIT_AS/CPU/FSIZE/NOFILE/CORE, run exactly one job and exit. The server enforces the
wall-clock limit from outside: a process that does not answer in time is killed. Jobs and
answers cross the pipe as JSON, never as pickles of the process's choosing; an answer is
bounded in size by the process that writes it.
"""

import asyncio
import contextlib
import gc
import json
import logging
import re
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import anyio
from pydantic import BaseModel

from app.pool import JobProcess, ProcessPool, Role
from app.sandbox.errors import ProgramError
from app.schemas import GraphData, GraphDetails, GraphExtras, GraphRequest, GraphShape
from app.settings import Limits, Settings
from app.warmup import TUTORIAL_PROGRAMS

log = logging.getLogger(__name__)
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
SURROGATE = re.compile("[\ud800-\udfff]")
EXAMPLES = Path(__file__).resolve().parents[1] / "static" / "examples.json"
# A reply larger than this is parsed in a thread, not on the event loop.
INLINE_REPLY_BYTES = 256 * 1024
# Run in each job process before it is ready: the smallest program that goes through every
# stage before the answer (check, interpreter, capture, backward, chain rule, JSON) takes
# nearly all of their copy-on-write faults, for much less CPU than WARM_UP. The gradient
# check's come after the answer, so they are left to the job.
PREFAULT = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\n"
# Container allocations that trigger a collection during a job (CPython's default, 700, would
# collect about once per seed-sized request, on its path); cyclic garbage still cannot grow
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
    """One message of a worker about a job. A job that succeeds gets three: the graph's
    shape as soon as it is known (the server starts drawing it), the rest of its details
    (the server can answer), then its extras (the gradient check). A job that fails gets an
    error in place of the message it could not make."""

    shape: GraphShape | None = None
    details: GraphDetails | None = None
    extras: GraphExtras | None = None
    error: ErrorFields | None = None
    fault: str | None = None  # an unexpected exception's traceback, for the server's log

    @classmethod
    def failed(cls, error: ProgramError, fault: str | None = None) -> "WorkerReply":
        # Field by field: `raised` holds the program's own values, which stay in the worker.
        fields = {name: getattr(error, name) for name in ErrorFields.model_fields}
        return cls(error=ErrorFields(**fields), fault=fault)

    def failure(self) -> ProgramError:
        """The program's error; a failed evaluation when the answer lacks a part."""
        if self.error is not None:
            return ProgramError(**self.error.model_dump())
        return ProgramError(
            "Evaluation failed", "the worker sent no answer", kind="evaluation-failed"
        )


# Inside the job process -------------------------------------------------------------------


def prepare_evaluator(settings_json: str) -> "Evaluator":
    """In the zygote: import and warm torch, once for every job process it will fork."""
    import torch

    from app.evaluate import evaluate

    settings = Settings.model_validate_json(settings_json)
    torch.set_num_threads(1)
    # Lazy imports inside torch probe the temp directory by writing a file; do that now,
    # before the walls refuse every write.
    tempfile.tempdir = tempfile.gettempdir()
    evaluate(GraphRequest(code=WARM_UP), settings.limits)
    # Trusted programs, never a user's: the page's own examples and the tutorial families
    # (app.warmup). Their first calls, and the guard's remembered output sizes of their
    # operations, are inherited by every job.
    for example in json.loads(EXAMPLES.read_text()):
        with contextlib.suppress(ProgramError):  # one shows an error on purpose
            evaluate(GraphRequest(code=example["code"]), settings.limits)
    for code in TUTORIAL_PROGRAMS:
        try:
            evaluate(GraphRequest(code=code), settings.limits)
        except ProgramError as error:  # a slower first request, not a reason to stop
            log.error("a warm-up program failed at line %s: %s", error.line, error.detail)
    return Evaluator(settings)


class Evaluator:
    """Runs one job in a job process; every failure becomes an error reply."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def warm(self) -> None:
        """The copy-on-write faults of a job's first steps, paid before a request comes."""
        from app.evaluate import evaluate_parts

        if self.settings.prefault_jobs:
            graph, _ = evaluate_parts(
                GraphRequest(code=PREFAULT), self.settings.limits, extras=False
            )
            encode_reply(WorkerReply(details=graph.details()), Budget(None))
        # Collect garbage between jobs, not during them: a job rarely fills the raised first
        # generation, and the process ends with the job.
        gc.set_threshold(GC_FIRST_GENERATION)

    def run(self, job: bytes, send: Callable[[bytes], None]) -> bytes:
        budget = Budget(self.settings.max_answer_bytes)

        def send_part(reply: WorkerReply) -> None:
            send(encode_reply(reply, budget))
            if budget.exceeded:
                raise AnswerTooLargeError

        def send_shape(shape: GraphShape) -> None:
            send_part(WorkerReply(shape=shape))

        def send_core(graph: GraphData) -> None:
            send_part(WorkerReply(details=graph.details()))

        try:
            return encode_reply(_run_job(job, self.settings.limits, send_shape, send_core), budget)
        except AnswerTooLargeError:
            return encode_reply(WorkerReply.failed(budget.failure()), Budget(None))


class AnswerTooLargeError(Exception):
    """The answer passed `max_answer_bytes`; its error reply was already sent."""


@dataclass
class Budget:
    """Bytes the job's messages may still take; None for no limit."""

    left: int | None
    limit: int | None = None
    exceeded: bool = False

    def __post_init__(self) -> None:
        self.limit = self.left

    def failure(self) -> ProgramError:
        return ProgramError(
            "Answer too large",
            f"the program's graph, values and printed output make an answer larger than "
            f"{(self.limit or 0) // (1024 * 1024)} MB; draw a smaller graph, or print less",
            kind="too-large",
        )


def encode_reply(reply: WorkerReply, budget: Budget) -> bytes:
    """The reply as JSON, whatever text the program made: characters JSON cannot carry (a
    lone surrogate) are replaced, and a reply that still cannot be written, or is over the
    budget, becomes an error reply. Never raises."""
    try:
        message = _dump(reply)
    except Exception:
        try:
            message = _dump(WorkerReply.model_validate(_replace_unencodable(reply.model_dump())))
        except Exception as error:
            failure = ProgramError(
                "Evaluation failed",
                f"the answer could not be written as JSON ({type(error).__name__})",
                kind="evaluation-failed",
            )
            message = _dump(WorkerReply.failed(failure))
    if budget.left is not None:
        budget.left -= len(message)
        if budget.left < 0:
            budget.exceeded = True
            return _dump(WorkerReply.failed(budget.failure()))
    return message


def _dump(reply: WorkerReply) -> bytes:
    # pydantic writes JSON in one pass in Rust, faster than json.dumps of a model_dump.
    return reply.model_dump_json().encode()


def _replace_unencodable(value: object) -> object:
    """`value` with every string made encodable as UTF-8 (lone surrogates become U+FFFD)."""
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_unencodable(k): _replace_unencodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_unencodable(item) for item in value]
    return value


def _run_job(
    job: bytes,
    limits: Limits,
    send_shape: Callable[[GraphShape], None],
    send_core: Callable[[GraphData], None],
) -> WorkerReply:
    """The last reply: the extras, after the shape and details were sent. Unexpected
    exceptions come back as an error reply whose detail has the traceback's last line; the
    whole traceback goes to the server's log with it."""
    from app.evaluate import evaluate_parts

    try:
        _, extras = evaluate_parts(
            GraphRequest.model_validate_json(job), limits, send_shape, send_core
        )
        return WorkerReply(extras=extras)
    except ProgramError as error:
        return WorkerReply.failed(error)
    except AnswerTooLargeError:
        raise
    except Exception as error:
        failure = ProgramError(
            "Evaluation failed",
            f"the program could not be run: {type(error).__name__}: {str(error)[:500]}",
            kind="evaluation-failed",
        )
        return WorkerReply.failed(failure, fault=traceback.format_exc()[-8000:])


# In the server ---------------------------------------------------------------------------


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
        "app.workers:prepare_evaluator",
        settings.model_dump_json(),
        settings.worker_memory_mb,
        settings.job_timeout_s,
    )


class EvaluationPool:
    """Evaluation job processes (`app.pool.ProcessPool`): at most `workers` jobs at once;
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
            kind="limit",
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
