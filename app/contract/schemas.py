"""The plain data that flows between stages and out of the API.

Tensor values are JSON: a number, a nested list, or for large tensors a summary object with
the shape kept. Non-finite floats are the strings "nan", "inf" and "-inf" (JSON has no such
numbers).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TensorJSON = Any  # number | bool | str | nested list | {"shape", "numel", "min", ...} | null
# A number JSON cannot hold, as the answer writes it wherever a number may be one.
NonFinite = Literal["nan", "inf", "-inf"]


class GraphView(BaseModel):
    """Which module calls the drawing shows as one box. Drawing is a pure function of the
    graph and its view."""

    model_config = ConfigDict(extra="forbid")

    collapsed: list[int] = Field(
        default_factory=list,
        description="Groups drawn as one box (their output's shape and gradient, their "
        "parameters' gradients); every other group is a cluster around its nodes.",
        max_length=100_000,
    )
    rolled: list[int] = Field(
        default_factory=list,
        description="Repeated calls of one module (same parameters, same enclosing group), "
        "each named by its first call's group: drawn as one box, 'cell x12', when every call "
        "is collapsed.",
        max_length=100_000,
    )


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
    include: list[Literal["gradcheck"]] = Field(
        default_factory=list,
        description="Teaching extras to put in this answer, waiting for them. Left out "
        "(the default), the answer comes as soon as the graph is drawn: `pending` lists them, "
        "and `extras` is where to GET them (GraphExtras), made when asked for.",
        examples=[[], ["gradcheck"]],
        max_length=1,
    )

    view: GraphView | None = Field(
        None,
        description="Which module calls to draw collapsed or rolled; default: the view that "
        "keeps the drawing readable (the whole graph when small). The JSON is complete "
        "whatever the view.",
    )

    @field_validator("code", "output")
    @classmethod
    def _valid_text(cls, value: str | None) -> str | None:
        """JSON allows a lone surrogate ("\\ud800"), which no UTF-8 text can hold: refuse it
        here, before it reaches a cache key, a worker's pipe or a log."""
        if value is not None:
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValueError(
                    "the program contains characters that are not valid text (a lone surrogate)"
                ) from None
        return value


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
    kind: Literal["leaf", "op", "root", "const"] = Field(
        description="const: a tensor the program cut from the graph (no_grad, detach, "
        "requires_grad_(False)); no gradient flows back into it."
    )
    variables: list[str] = Field(description="User names bound to the tensor it produced.")
    shape: list[int] | None
    dtype: str | None
    value: TensorJSON = Field(description="The forward value, when the sandbox saw it.")
    grad: TensorJSON = Field(description="d(root)/d(this node's output).")
    saved: dict[str, TensorJSON] = Field(description="Saved tensors and values, e.g. self=3.")
    backward_step: int | None = Field(description="Order in which backward ran this node.")
    note: str | None = Field(None, description="Why a const node is cut from the graph.")
    module: str | None = Field(
        None,
        description="Path of the module call that made it (model.encoder.layers.0.self_attn); "
        "null for top-level code. A parameter is placed in the innermost call of its module "
        "that holds every use of it.",
    )
    call: int | None = Field(
        None, description="Which call of that module made it, 0-based; null with `module`."
    )
    title: str = Field(
        "",
        description="What the drawing and the page call it: the names bound to a leaf's "
        "tensor ('x', 'leaf' when none), an operation and the names of its output "
        "('PowBackward0 → y'), then the module whose parameters it uses ('AddmmBackward0 "
        "(model.0)', as in `layers`); a constant's names and '(cut, no grad)'. At most three "
        "names, and how many more.",
    )
    value_text: str = Field(
        "",
        description="`value` in a few words, as the drawing shows it: a number as PyTorch "
        "prints it (-5.4668), the first 4 items of a tensor, or a large tensor's min, max "
        "and mean; None when the value is not known.",
    )
    grad_text: str = Field(
        "", description="`grad` in a few words, as `value_text`; None when no gradient came."
    )
    shape_text: str = Field(
        "",
        description="`shape` as the drawing shows it: 'scalar', or the sizes joined by a "
        "times sign ('32×16'); 'unknown' when the shape is not known.",  # noqa: RUF001
    )
    grad_name: str = Field(
        "",
        description="What `grad` is, as the drawing and the page name it: d(root)/d(this "
        "node's output), e.g. 'dz/dy'; 'd(this)' for an output without a name. Not .grad, "
        "which only a leaf keeps.",
    )


class EdgeInfo(BaseModel):
    """Data flows source -> target in the forward pass; `grad` flows back along it."""

    source: int
    target: int
    input_nr: int = Field(description="Which input of the target node this edge feeds.")
    grad: TensorJSON = Field(description="Gradient passed from target back to source.")
    cut: bool = Field(False, description="The source was cut from the graph: no gradient.")
    local: float | None = Field(
        None, description="d(target)/d(source), the local derivative, when both are scalars."
    )
    grad_text: str = Field(
        "", description="`grad` in a few words, as a node's `grad_text`; None for a cut edge."
    )


class BackwardPassInfo(BaseModel):
    """One backward pass, or a change of .grad between passes, in program order."""

    kind: Literal["backward", "grad", "server", "reset", "changed"] = Field(
        description="backward: Tensor.backward or autograd.backward; grad: autograd.grad; "
        "server: the server's own backward; reset: .grad zeroed or set to None since the "
        "entry before (zero_(), optimizer.zero_grad()); changed: .grad changed otherwise."
    )
    root: str | None = Field(description="Variable backward started from, when it has a name.")
    grads: dict[str, TensorJSON] = Field(
        description="The .grad of every named leaf (module parameters by path) afterwards."
    )
    values: dict[str, TensorJSON] = Field(
        description="The values of the same leaves then: an optimiser step shows here."
    )


class DirectionCheck(BaseModel):
    """d(root)/d(leaf) along one direction v of length 1 (every element of the leaf moved
    up or down by the same tiny step, the signs at random): autograd's gradient · v against
    (f(x + hv) - f(x - hv)) / 2h in float64. Two replays of the program, whatever the leaf's
    size."""

    autograd: "float | NonFinite | None" = Field(
        description="The gradient autograd delivered, times v, summed; null when it gave none."
    )
    numeric: "float | NonFinite" = Field(description="Central differences along v.")
    ok: bool = Field(description="Whether they agree within 1e-4 + 1e-3 · |autograd's gradient|.")


class GradCheckInfo(BaseModel):
    """d(root)/d(leaf) by autograd and by central finite differences in float64."""

    autograd: TensorJSON = Field(description="What autograd delivered to the leaf.")
    numeric: TensorJSON = Field(
        description="Central differences element by element; null when not computed."
    )
    ok: bool | None = Field(
        description="Whether they agree: element by element when `numeric` was computed, "
        "else along `direction`; null when not checked."
    )
    note: str | None = Field(
        None, description="Why the check was skipped, or why it was made along one direction."
    )
    direction: DirectionCheck | None = Field(
        None,
        description="The check along one random direction, made for every leaf the check "
        "covers; the only one for a leaf of more than 64 elements.",
    )


class ChainFactor(BaseModel):
    """One local derivative along a path from the root to a leaf."""

    derivative: str = Field(description="Which derivative, e.g. dz/dy.")
    formula: str | None = Field(description="Its symbolic form when known, e.g. cos(y).")
    value: float | None = Field(description="Its value; null when it cannot be read off.")


class ChainPath(BaseModel):
    """A path from the root down to the leaf; its factors multiply to its contribution."""

    factors: list[ChainFactor]
    product: float | None


class ChainRuleInfo(BaseModel):
    """The chain rule for one leaf of a scalar graph."""

    factors: list[ChainFactor] = Field(description="The local derivatives of the first path.")
    product: float | None = Field(description="The sum over paths: the leaf's gradient.")
    paths: list[ChainPath] = Field(description="Every path; several when paths meet.")
    text: str = Field(description='e.g. "dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668".')


class GroupInfo(BaseModel):
    """One call of one module: a cluster in the drawing, or one box when collapsed."""

    id: int
    module: str = Field(description="The module's path, e.g. model.encoder.layers.0.")
    type: str = Field(description="The module's class name, e.g. TransformerEncoderLayer.")
    call: int = Field(description="Which call of the module, 0-based: a loop makes several.")
    parent: int | None = Field(description="The group of the call around it; null: top level.")
    nodes: list[int] = Field(description="Ids of the nodes directly inside (not in subgroups).")
    title: str = Field(
        "",
        description="What the drawing and the page call it: 'model.layers.0 "
        "(TransformerEncoderLayer)'; 'cell (RNNCell), call 4 of 12' when the module was called "
        "more than once.",
    )


class GraphShape(BaseModel):
    """The graph itself, which is all the drawing needs: known before the teaching fields, so
    that the server can lay it out while the worker computes them."""

    root: int | None = Field(description="Id of the root node, when there is a graph.")
    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    groups: list[GroupInfo] = Field(
        default_factory=list, description="One per module call that made any node."
    )


class ViewRequest(BaseModel):
    """Another view of a graph the server drew lately."""

    model_config = ConfigDict(extra="forbid")

    shape: str = Field(description="The `shape` token of an answer of POST /api/graph.")
    view: GraphView


class GraphDrawing(BaseModel):
    """One view of a graph: the answer of POST /api/graph/view, and part of every answer."""

    view: GraphView = Field(description="The view drawn.")
    dot: str = Field(description="Graphviz source of the drawing.")
    svg: str | None = Field(description="The drawing; null when layout ran out of time.")
    shown_in: dict[int, str] = Field(
        default_factory=dict,
        description="Node id -> the id of the box in the SVG that holds it, for every node "
        "inside a collapsed group (group-N).",
    )
    warning: str | None = Field(None, description="Why there is no SVG, or how it was drawn.")


class GraphDetails(BaseModel):
    """What evaluation and capture produce besides the graph."""

    root_name: str | None
    variables: dict[str, VariableInfo]
    stdout: str
    warnings: list[str]
    backward_passes: list[BackwardPassInfo] = Field(
        default_factory=list, description="Each backward pass and each reset, in order."
    )
    gradcheck: dict[str, GradCheckInfo] = Field(
        default_factory=dict, description="Per leaf of the drawn graph, by its name."
    )
    chain_rule: dict[str, ChainRuleInfo] = Field(
        default_factory=dict, description="Per leaf, when every node on its paths is a scalar."
    )


class GraphData(GraphDetails, GraphShape):
    """What evaluation and capture produce: everything but the picture."""

    @classmethod
    def of(cls, shape: GraphShape, details: GraphDetails) -> "GraphData":
        """The two parts, already validated, joined without validating them again."""
        return cls.model_construct(**dict(shape), **dict(details))

    def with_extras(self, extras: "GraphExtras") -> "GraphData":
        """The answer with its extras in it, as one document: what the two steps of
        POST /api/graph and GET /api/graph/extras/{token} give together."""
        return self.model_copy(
            update={"gradcheck": extras.gradcheck, "warnings": [*self.warnings, *extras.warnings]}
        )

    def details(self) -> GraphDetails:
        return GraphDetails.model_construct(
            **{name: getattr(self, name) for name in GraphDetails.model_fields}
        )


class GraphExtras(BaseModel):
    """What an answer left pending, from GET /api/graph/extras/{token}: its `gradcheck`, and
    warnings to add to its own (what went wrong while it was computed)."""

    gradcheck: dict[str, GradCheckInfo] = Field(
        default_factory=dict, description="Per leaf of the drawn graph, by its name."
    )
    warnings: list[str] = Field(
        default_factory=list, description="To append to the answer's warnings."
    )


class GraphResponse(GraphData):
    """The answer of POST /api/graph."""

    pending: list[Literal["gradcheck"]] = Field(
        default_factory=list,
        description="Fields this answer leaves out (empty), made only when fetched from "
        "`extras`: `gradcheck` unless the request included it.",
    )
    extras: str | None = Field(
        None,
        description="Where to GET the pending fields (GraphExtras) for a short while: "
        "/api/graph/extras/{token}; null when nothing is pending.",
    )

    dot: str = Field(description="Graphviz source of the drawing.")
    view: GraphView = Field(
        default_factory=GraphView,
        description="The view drawn: a small graph whole, a big one collapsed to the depth of "
        "module calls that keeps it readable, repeated calls rolled.",
    )
    shown_in: dict[int, str] = Field(
        default_factory=dict, description="As in GraphDrawing: where hidden nodes are drawn."
    )
    shape: str | None = Field(
        None,
        description="Token for POST /api/graph/view, which draws other views of this graph "
        "without running the program again, while the server keeps it.",
    )
    layers: dict[int, str] = Field(
        default_factory=dict,
        description="Node id -> the module it belongs to (model.0), where its inputs are "
        "that module's parameters.",
    )
    svg: str | None = Field(description="The drawing; null when layout ran out of time.")


class Problem(BaseModel):
    """RFC 9457 problem details, with the position in the program where there is one."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    line: int | None = None
    column: int | None = None
