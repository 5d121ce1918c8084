"""The plain data that flows between stages and out of the API.

Tensor values are JSON: a number, a nested list, or for large tensors a summary object with
the shape kept. Non-finite floats are the strings "nan", "inf" and "-inf" (JSON has no such
numbers).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TensorJSON = Any  # number | bool | str | nested list | {"shape", "numel", "min", ...} | null


class GraphRequest(BaseModel):
    """A program to run, and optionally the variable to draw the graph from."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="PyTorch program, in the subset of Python the sandbox runs.")
    output: str | None = Field(
        None,
        description="Variable to draw the graph from and backpropagate; default: the tensor "
        "of the program's last backward() call, else the last tensor assigned with a grad_fn.",
        max_length=100,
    )


class VariableInfo(BaseModel):
    """A name bound to a tensor when the program ended."""

    value: TensorJSON
    grad: TensorJSON = Field(description="Exactly what PyTorch's .grad holds at the end.")
    shape: list[int]
    dtype: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None


class NodeInfo(BaseModel):
    """One autograd node: an operation's backward function, or AccumulateGrad for a leaf."""

    id: int
    op: str = Field(description="Class name of the node, e.g. PowBackward0 or AccumulateGrad.")
    kind: Literal["leaf", "op", "root"]
    variables: list[str] = Field(description="User names bound to the tensor it produced.")
    shape: list[int] | None
    dtype: str | None
    value: TensorJSON = Field(description="The forward value, when the sandbox saw it.")
    grad: TensorJSON = Field(description="d(root)/d(this node's output).")
    saved: dict[str, TensorJSON] = Field(description="Saved tensors and values, e.g. self=3.")
    backward_step: int | None = Field(description="Order in which backward ran this node.")


class EdgeInfo(BaseModel):
    """Data flows source -> target in the forward pass; `grad` flows back along it."""

    source: int
    target: int
    input_nr: int = Field(description="Which input of the target node this edge feeds.")
    grad: TensorJSON = Field(description="Gradient passed from target back to source.")


class GraphData(BaseModel):
    """What evaluation and capture produce: everything but the picture."""

    root: int | None = Field(description="Id of the root node, when there is a graph.")
    root_name: str | None
    variables: dict[str, VariableInfo]
    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    stdout: str
    warnings: list[str]


class GraphResponse(GraphData):
    """The answer of POST /api/graph."""

    dot: str = Field(description="Graphviz source of the drawing.")
    svg: str | None = Field(description="The drawing; null when layout ran out of time.")


class Problem(BaseModel):
    """RFC 9457 problem details, with the position in the program where there is one."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    line: int | None = None
    column: int | None = None
