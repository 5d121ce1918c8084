"""Stages 1-3 for one request, as a worker process runs them: check, evaluate, capture."""

import re
import warnings
from collections.abc import Callable

import torch

from app.capture import GraphCapture
from app.learner_errors import explained
from app.sandbox.checker import check_program
from app.sandbox.errors import ProgramError
from app.sandbox.interpreter import Interpreter
from app.schemas import GraphData, GraphRequest, GraphShape
from app.settings import Limits

# A fresh Python process starts with this seed; resetting to it makes every job see the same
# random numbers a plain `python program.py` would.
DEFAULT_SEED = 67280421310721
# PyTorch appends where in its C++ sources a warning came from; learners do not need it.
TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\.?")


def reset_torch_state() -> None:
    """The state every job starts from, whatever the previous job changed."""
    # Only the CPU generator: torch.manual_seed also queues lazy CUDA/XPU/MTIA seeding, each
    # recording a formatted stack trace, a few milliseconds per job.
    torch.default_generator.manual_seed(DEFAULT_SEED)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    # PyTorch warns of some things once per process (TORCH_WARN_ONCE): whether a job saw the
    # warning would depend on what earlier jobs on this worker ran. Every job sees every one.
    torch.set_warn_always(True)


def evaluate(
    request: GraphRequest, limits: Limits, on_shape: Callable[[GraphShape], None] | None = None
) -> GraphData:
    """Run the program and capture its graph. Raises ProgramError for the learner's mistakes.

    `on_shape` is given the graph as soon as it is known, before the teaching fields.
    """
    program = check_program(request.code, limits)
    reset_torch_state()
    capture = GraphCapture(limits, on_shape, request.output)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            interpreter = Interpreter(program, limits, capture)
            evaluation = interpreter.run()
            with interpreter.server_backward():
                graph = capture.finish(evaluation, request.output)
        except ProgramError as error:
            raise explained(error, request.code) from None
    python_warnings = [TRIGGERED.sub("", str(w.message)) for w in caught]
    graph.warnings = list(dict.fromkeys(python_warnings + graph.warnings))
    return graph
