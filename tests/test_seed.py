"""The seed notebook, verbatim: every cell runs, alone where it stands alone, and as one program."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from tests.seed_cells import (
    ACCUMULATION,
    BCE_COMMENT,
    CELLS,
    CHAIN_RULE,
    CLASSIFIER_INPUTS,
    DERIVATIVE_BY_HAND,
    IMPORTS,
    SEED_NOTEBOOK,
    WHOLE_NOTEBOOK,
    WHOLE_NOTEBOOK_STDOUT,
)

NOTEBOOK = Path(__file__).resolve().parents[1] / SEED_NOTEBOOK


def test_cells_are_verbatim_from_the_notebook() -> None:
    text = NOTEBOOK.read_text()
    for cell in CELLS:
        assert cell in text, f"not verbatim in the notebook: {cell[:60]!r}"


@pytest.mark.parametrize("count", range(1, len(CELLS) + 1))
def test_each_cell_runs_after_the_cells_before_it(count: int) -> None:
    evaluate(GraphRequest(code="\n\n".join(CELLS[:count])), Limits())


@pytest.mark.parametrize(
    "cell",
    [IMPORTS, DERIVATIVE_BY_HAND, BCE_COMMENT, CHAIN_RULE[0], CLASSIFIER_INPUTS, ACCUMULATION[-1]],
)
def test_self_contained_cells_run_alone(cell: str) -> None:
    """Alone, after the notebook's import cell (which every later cell relies on)."""
    evaluate(GraphRequest(code=f"{IMPORTS}\n{cell}"), Limits())


def test_whole_notebook_over_http(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": WHOLE_NOTEBOOK})
    assert response.status_code == 200
    body = response.json()
    assert body["stdout"] == WHOLE_NOTEBOOK_STDOUT
    assert body["root_name"] == "y"
    assert body["variables"]["x"]["grad"] == 0.0  # the last cell is x.grad.zero_()
    assert body["svg"].startswith("<svg")
