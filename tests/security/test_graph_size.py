"""The graph drawn from one root is bounded, and hitting the bound is a clear refusal."""

import pytest

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate

CHAIN = (
    "import torch\nx = torch.ones(1, requires_grad=True)\ny = x\n"
    "for i in range(100):\n    y = y * 1.5"
)


def test_graph_over_the_node_limit_is_refused() -> None:
    with pytest.raises(ProgramError) as caught:
        evaluate(GraphRequest(code=CHAIN), Limits(max_graph_nodes=50))
    assert caught.value.slug == "limit"
    assert "graph" in caught.value.detail


def test_graph_under_the_node_limit_is_drawn() -> None:
    graph = evaluate(GraphRequest(code=CHAIN), Limits(max_graph_nodes=500))
    assert len(graph.nodes) == 101
