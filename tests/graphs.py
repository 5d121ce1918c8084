"""Small hand-made graphs for the drawing tests: a weight shared by every step of a loop."""

from typing import TypeVar

from app.contract.graphs import layers
from app.contract.schemas import EdgeInfo, GraphData, GraphShape, NodeInfo
from app.contract.text import write_texts

Shape = TypeVar("Shape", bound=GraphShape)


def described(graph: Shape) -> Shape:
    """The graph with the texts capture writes into every graph it makes (titles, values
    and gradients as text): again after a test changes a node."""
    write_texts(graph, layers(graph))
    return graph


def node(node_id: int, kind: str, op: str = "TanhBackward0") -> NodeInfo:
    return NodeInfo.model_validate(
        {
            "id": node_id,
            "op": "AccumulateGrad" if kind == "leaf" else op,
            "kind": kind,
            "variables": ["W"] if kind == "leaf" else [],
            "shape": [],
            "dtype": "float32",
            "value": 1.0,
            "grad": 0.5,
            "saved": {},
            "backward_step": None,
        }
    )


def shared_weight_chain(steps: int) -> GraphData:
    """Root 0, then op nodes 1..steps in a chain; leaf W (id steps+1) feeds every op."""
    leaf = steps + 1
    nodes = [node(0, "root"), *(node(i, "op") for i in range(1, steps + 1)), node(leaf, "leaf")]
    edges = [EdgeInfo(source=i + 1, target=i, input_nr=0, grad=1.0) for i in range(steps)]
    edges += [EdgeInfo(source=leaf, target=i, input_nr=1, grad=2.0) for i in range(1, steps + 1)]
    return described(
        GraphData(
            root=0, root_name="h", variables={}, nodes=nodes, edges=edges, stdout="", warnings=[]
        )
    )
