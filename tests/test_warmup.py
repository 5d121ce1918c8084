"""The zygote's warm-up programs run whole: one that failed would leave its operations cold
for every job, silently but for a line in the log."""

import pytest

from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from app.worker.warmup import TUTORIAL_PROGRAMS


@pytest.mark.parametrize("code", TUTORIAL_PROGRAMS, ids=range(len(TUTORIAL_PROGRAMS)))
def test_every_warm_up_program_runs_and_draws_a_graph(code: str) -> None:
    graph = evaluate(GraphRequest(code=code), Limits())
    assert graph.nodes
    assert graph.gradcheck is not None
