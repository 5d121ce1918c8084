"""What the job processes run: the server's one way into app.worker.

The evaluation pool's zygote calls `prepare_evaluator` once (import and warm torch on trusted
programs, load libgvc), then each job process it forks calls `Evaluator.warm` and runs exactly
one job with `Evaluator.run`, laying out its drawing when the server asks. The server names
this module only in its role (app.server.workers), and reads the answers as
app.contract.replies; the layout pool's role names app.worker.graphviz, which does not import
torch.
"""

import contextlib
import gc
import json
import logging
import re
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch

from app.contract.errors import ProgramError
from app.contract.examples import EXAMPLES
from app.contract.replies import LAY_OUT, MAKE_EXTRAS, WorkerReply
from app.contract.schemas import GraphData, GraphRequest, GraphShape
from app.contract.settings import Limits, Settings
from app.worker.evaluate import evaluate, evaluate_parts
from app.worker.graphviz import Graphviz, lay_out, load_graphviz
from app.worker.warmup import TUTORIAL_PROGRAMS

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
# Run in each job process before it is ready: the smallest program that goes through every
# stage before the answer (check, interpreter, capture, backward, chain rule, JSON) takes
# nearly all of their copy-on-write faults, for much less CPU than WARM_UP. The gradient
# check's come after the answer, so they are left to the job.
PREFAULT = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\n"
# Container allocations that trigger a collection during a job (CPython's default, 700, would
# collect about once per seed-sized request, on its path); cyclic garbage still cannot grow
# without bound within a job.
GC_FIRST_GENERATION = 20_000


def prepare_evaluator(settings_json: str) -> "Evaluator":
    """In the zygote: import and warm torch, once for every job process it will fork."""
    settings = Settings.model_validate_json(settings_json)
    torch.set_num_threads(1)
    # Lazy imports inside torch probe the temp directory by writing a file; do that now,
    # before the walls refuse every write.
    tempfile.tempdir = tempfile.gettempdir()
    evaluate(GraphRequest(code=WARM_UP), settings.limits)
    # Trusted programs, never a user's: the page's own examples and the tutorial families
    # (app.worker.warmup). Their first calls, and the guard's remembered output sizes of their
    # operations, are inherited by every job.
    for example in json.loads(EXAMPLES.read_text()):
        with contextlib.suppress(ProgramError):  # one shows an error on purpose
            evaluate(GraphRequest(code=example["code"]), settings.limits)
    for code in TUTORIAL_PROGRAMS:
        try:
            evaluate(GraphRequest(code=code), settings.limits)
        except ProgramError as error:  # a slower first request, not a reason to stop
            log.error("a warm-up program failed at line %s: %s", error.line, error.detail)
    return Evaluator(settings, load_graphviz())


class Evaluator:
    """Runs one job in a job process; every failure becomes an error reply."""

    def __init__(self, settings: Settings, graphviz: Graphviz | None = None) -> None:
        self.settings = settings
        self.graphviz = graphviz

    def warm(self) -> None:
        """The copy-on-write faults of a job's first steps, paid before a request comes. Runs
        in the thread that runs the job (`app.server.pool.in_own_arena`)."""
        # OpenMP's thread count is a thread's own: the zygote's setting is not this thread's.
        torch.set_num_threads(1)
        if self.settings.prefault_jobs:
            graph, _ = evaluate_parts(
                GraphRequest(code=PREFAULT), self.settings.limits, extras=False
            )
            encode_reply(WorkerReply(details=graph.details()), AnswerAllowance(None))
        # Collect garbage between jobs, not during them: a job rarely fills the raised first
        # generation, and the process ends with the job.
        gc.set_threshold(GC_FIRST_GENERATION)

    def run(self, job: bytes, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> bytes:
        allowance = AnswerAllowance(self.settings.max_answer_bytes)

        def send_part(reply: WorkerReply) -> None:
            send(encode_reply(reply, allowance))
            if allowance.exceeded:
                raise AnswerTooLargeError

        def send_shape(shape: GraphShape) -> None:
            send_part(WorkerReply(shape=shape))

        def send_core(graph: GraphData) -> None:
            send_part(WorkerReply(details=graph.details()))
            # The drawing is laid out here if the server asks (this process has the graph's
            # data already; a layout process would be one more fork). The extras are made
            # only when someone asks for them: until the server says so the process waits,
            # and a process nobody asked is killed.
            while (message := receive()).startswith(LAY_OUT):
                send(lay_out(self.graphviz, message[len(LAY_OUT) :]))
            if message != MAKE_EXTRAS:
                raise NotAskedError

        try:
            return encode_reply(
                _run_job(job, self.settings.limits, send_shape, send_core), allowance
            )
        except AnswerTooLargeError:
            return encode_reply(WorkerReply.failed(allowance.failure()), AnswerAllowance(None))
        except NotAskedError:
            return b""


class NotAskedError(BaseException):
    """The server let the job end without its extras. A BaseException, so that no handler
    of the program's errors turns it into an error reply."""


class AnswerTooLargeError(Exception):
    """The answer passed `max_answer_bytes`; its error reply was already sent."""


@dataclass
class AnswerAllowance:
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
            slug="too-large",
        )


def encode_reply(reply: WorkerReply, allowance: AnswerAllowance) -> bytes:
    """The reply as JSON, whatever text the program made: characters JSON cannot carry (a
    lone surrogate) are replaced, and a reply that still cannot be written, or is over the
    allowance, becomes an error reply. Never raises."""
    try:
        message = _dump(reply)
    except Exception:
        try:
            message = _dump(WorkerReply.model_validate(_replace_unencodable(reply.model_dump())))
        except Exception as error:
            failure = ProgramError(
                "Evaluation failed",
                f"the answer could not be written as JSON ({type(error).__name__})",
                slug="evaluation-failed",
            )
            message = _dump(WorkerReply.failed(failure))
    if allowance.left is not None:
        allowance.left -= len(message)
        if allowance.left < 0:
            allowance.exceeded = True
            return _dump(WorkerReply.failed(allowance.failure()))
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
            slug="evaluation-failed",
        )
        return WorkerReply.failed(failure, fault=traceback.format_exc()[-8000:])
