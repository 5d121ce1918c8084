"""Stages 1-3 for one request, as a worker process runs them: check, evaluate, capture."""

import re
import warnings
from collections.abc import Callable

import torch

from app.contract.errors import ProgramError
from app.contract.schemas import GraphData, GraphExtras, GraphRequest, GraphShape
from app.contract.settings import Limits
from app.contract.text import without_addresses
from app.worker.capture import GraphCapture
from app.worker.learner_errors import explained
from app.worker.sandbox.checker import check_program
from app.worker.sandbox.interpreter import Interpreter

# A fresh Python process starts with this seed; resetting to it makes every job see the same
# random numbers a plain `python program.py` would.
DEFAULT_SEED = 67280421310721
# PyTorch appends where in its C++ sources a warning came from; learners do not need it.
TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\.?")


def reset_torch_state() -> None:
    """The state every job starts from, whatever the previous job changed."""
    # Only the CPU generator: torch.manual_seed also queues lazy CUDA/XPU/MTIA seeding, each
    # recording a formatted stack trace: a cost on every job for accelerators it never has.
    torch.default_generator.manual_seed(DEFAULT_SEED)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    # PyTorch warns of some things once per process (TORCH_WARN_ONCE): whether a job saw the
    # warning would depend on what earlier jobs on this worker ran. Every job sees every one.
    torch.set_warn_always(True)


def evaluate(
    request: GraphRequest, limits: Limits, on_shape: Callable[[GraphShape], None] | None = None
) -> GraphData:
    """Run the program and capture its graph, with everything. Raises ProgramError for the
    learner's mistakes.

    `on_shape` is given the graph as soon as it is known, before the teaching fields.
    """
    graph, extras = evaluate_parts(request, limits, on_shape)
    return graph.with_extras(extras)


def evaluate_parts(
    request: GraphRequest,
    limits: Limits,
    on_shape: Callable[[GraphShape], None] | None = None,
    on_core: Callable[[GraphData], None] | None = None,
    extras: bool = True,
) -> tuple[GraphData, GraphExtras]:
    """`evaluate` in two parts: the answer without its extras (`on_core` is given it before
    they are computed), and the extras (the gradient check), whose cost is not bounded by
    the graph's size; empty if not `extras`. Their warnings are the ones the answer does
    not have yet."""
    program = check_program(request.code, limits)
    reset_torch_state()
    capture = GraphCapture(limits, on_shape, request.output)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            interpreter = Interpreter(program, limits, capture)
            with capture.modules.recording():
                evaluation = interpreter.run()
            with interpreter.server_backward():
                graph = capture.finish(evaluation, request.output)
        except ProgramError as error:
            raise explained(error, request.code) from None
        graph.warnings = _joined(caught, graph.warnings)
        if on_core is not None:
            on_core(graph)
        if not extras:
            return graph, GraphExtras()
        told = len(caught)
        made = capture.extras()
        later = _joined(caught[told:], made.warnings)
    made.warnings = [warning for warning in later if warning not in graph.warnings]
    return graph, made


def _joined(caught: list[warnings.WarningMessage], ours: list[str]) -> list[str]:
    """Python's warnings, then ours, each once, without the addresses they may quote."""
    python_warnings = [TRIGGERED.sub("", str(w.message)) for w in caught]
    return list(dict.fromkeys(without_addresses(text) for text in python_warnings + ours))
