"""Stage 3: walk the autograd graph and capture every node's and edge's gradient.

The interpreter hands each backward call to `GraphCapture.run_backward`. Before backward runs
(and frees saved tensors) the graph is walked iteratively from the roots, each node's forward
value and saved tensors are read, and a hook is placed on every node: it numbers the nodes in
the order backward runs them and records `grad_outputs` (the gradient of the node's output)
and `grad_inputs` (the gradient along each edge, aligned with `next_functions`).

For teaching, it also keeps the timeline of passes (app.passes), the forward calls (app.tape)
that let the gradient check (app.gradcheck) recompute the root and that show where the
program cut the graph, and reads the chain rule off the gradients (app.chainrule).
"""

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.autograd.graph import Node

from app.chainrule import chain_rule
from app.gradcheck import LeafGradient, check_gradients
from app.learner_errors import explain
from app.passes import PassLog, named_tensors
from app.sandbox.classes import ProgramFunction
from app.sandbox.errors import ProgramError, too_big
from app.sandbox.interpreter import Call, Evaluation
from app.schemas import (
    EdgeInfo,
    GradCheckInfo,
    GraphData,
    GraphShape,
    NodeInfo,
    VariableInfo,
)
from app.settings import Limits
from app.summary import Summaries, Summarize, dtype_name, summarize
from app.tape import Tape


@dataclass
class NodeSnapshot:
    """What is known of a node before backward runs."""

    op: str
    variables: list[str]
    shape: list[int] | None
    dtype: str | None
    value: Any
    saved: dict[str, Any]
    local: list[float | None] = field(default_factory=list)  # d(output)/d(input i), scalars


@dataclass
class BackwardPass:
    """One backward() (or autograd.grad) call: the graph it walked and what flowed back."""

    kind: str
    roots: list[torch.Tensor]
    nodes: list[Node]
    edges: list[tuple[Node, Node, int]]
    snapshots: dict[Node, NodeSnapshot]
    grads: dict[Node, Any] = field(default_factory=dict)
    edge_grads: dict[tuple[Node, int], Any] = field(default_factory=dict)
    steps: dict[Node, int] = field(default_factory=dict)
    leaf_grads: dict[Node, torch.Tensor] = field(default_factory=dict)  # for gradcheck


class GraphCapture:
    """Observes a program's backward calls; builds the answer when the program is done."""

    def __init__(
        self, limits: Limits, on_shape: Callable[[GraphShape], None] | None = None
    ) -> None:
        self.limits = limits
        self.on_shape = on_shape  # told the graph as soon as it is known
        self.ids: dict[Node, int] = {}  # our own ids: id() can be reused after collection
        self.const_ids: dict[int, int] = {}  # by id() of a tensor the tape keeps alive
        self.counter = itertools.count()
        self.values: dict[Node, torch.Tensor] = {}
        self.passes: list[BackwardPass] = []
        self.saved_names: dict[type, list[str]] = {}
        self.tape = Tape()
        self.log = PassLog()
        self.summaries = Summaries()

    # Called by the interpreter ---------------------------------------------------------

    def produced(self, value: Any, call: Call | None = None) -> None:
        """Remember forward values, so that nodes without a user name still show theirs."""
        if call is not None:
            self.tape.record(value, call)
        items = value if isinstance(value, tuple | list) else (value,)
        for item in items[:16]:
            if isinstance(item, torch.Tensor) and item.grad_fn is not None:
                self.values.setdefault(item.grad_fn, item)

    def run_backward(
        self, kind: str, roots: list[torch.Tensor], names: dict[str, Any], call: Callable[[], Any]
    ) -> Any:
        # A memo holds only while no program code runs: one per pass, and one for the end.
        self.summaries = Summaries()
        self.log.before(names, self.summaries)
        record = self.walk(kind, roots, names)
        handles = [handle for node in record.nodes for handle in self._hook(record, node)]
        try:
            result = call()
        finally:
            for handle in handles:
                handle.remove()
            self.passes.append(record)
        self.log.after(kind, _name_of(roots[0], names), names, self.summaries)
        return result

    # Walking and hooking ---------------------------------------------------------------

    def walk(self, kind: str, roots: list[torch.Tensor], names: dict[str, Any]) -> BackwardPass:
        """Visit every node reachable from the roots, with a stack (graphs can be deep)."""
        labels = _names_by_tensor(names)
        stack = [root.grad_fn for root in roots if root.grad_fn is not None]
        seen: set[Node] = set()
        nodes: list[Node] = []
        edges: list[tuple[Node, Node, int]] = []
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            nodes.append(node)
            if len(nodes) > self.limits.max_graph_nodes:
                raise too_big(f"the graph has more than {self.limits.max_graph_nodes} nodes")
            if node not in self.ids:
                self.ids[node] = next(self.counter)
            for input_nr, (child, _) in enumerate(node.next_functions):
                if child is not None:
                    edges.append((child, node, input_nr))
                    stack.append(child)
        snapshots = {node: self._snapshot(node, labels) for node in nodes}
        return BackwardPass(kind, roots, nodes, edges, snapshots)

    def _snapshot(self, node: Node, labels: dict[int, list[str]]) -> NodeSnapshot:
        op = type(node).__name__  # name() of AccumulateGrad is "torch::autograd::AccumulateGrad"
        tensor = (
            getattr(node, "variable", None) if op == "AccumulateGrad" else (self.values.get(node))
        )
        variables: list[str] = []
        if tensor is not None:
            variables = labels.get(id(tensor), [])
        return NodeSnapshot(
            op=op,
            variables=variables,
            shape=list(tensor.shape) if tensor is not None else None,
            dtype=dtype_name(tensor.dtype) if tensor is not None else None,
            value=self.summaries(tensor) if tensor is not None else None,
            saved=self._saved(node),
            local=_local_derivatives(node, tensor) if op != "AccumulateGrad" else [],
        )

    def _saved(self, node: Node) -> dict[str, Any]:
        kind = type(node)
        if kind not in self.saved_names:
            self.saved_names[kind] = [a for a in dir(node) if a.startswith("_saved_")]
        saved: dict[str, Any] = {}
        for attribute in self.saved_names[kind]:
            try:
                value = _signed(getattr(node, attribute))
                saved[attribute.removeprefix("_saved_")] = self.summaries(value)
            except RuntimeError:  # already freed by an earlier backward
                continue
        return saved

    def _hook(self, record: BackwardPass, node: Node) -> list[Any]:
        def after(
            grad_inputs: tuple[torch.Tensor | None, ...],
            grad_outputs: tuple[torch.Tensor | None, ...],
        ) -> None:
            # The CPU engine runs one node at a time, so the order nodes finish in is the
            # order they ran in: no pre-hook is needed to number them.
            record.steps[node] = len(record.steps) + 1
            outputs = [self.summaries(g) for g in grad_outputs]
            record.grads[node] = outputs[0] if len(outputs) == 1 else outputs
            for input_nr, grad in enumerate(grad_inputs):
                record.edge_grads[(node, input_nr)] = self.summaries(grad)
            if record.snapshots[node].op == "AccumulateGrad" and grad_outputs[0] is not None:
                record.leaf_grads[node] = grad_outputs[0].detach().clone()
            if record.snapshots[node].shape is None:
                first = next((g for g in grad_outputs if g is not None), None)
                if first is not None:
                    record.snapshots[node].shape = list(first.shape)
                    record.snapshots[node].dtype = dtype_name(first.dtype)

        return [node.register_hook(after)]

    # The answer ------------------------------------------------------------------------

    def finish(self, evaluation: Evaluation, output: str | None) -> GraphData:
        """Pick the root, backpropagate it if the program did not, and build the answer."""
        notes: list[str] = []
        root_name, root = self._root(evaluation, output)
        record: BackwardPass | None = None
        if root is not None:
            record = self._pass_for(root) or self._server_backward(
                root, root_name, evaluation, notes
            )
        if root is None:
            notes.append(
                "No tensor in this program has an autograd graph yet: create one with "
                "requires_grad=True and compute something from it."
            )
        nodes, edges = self._graph(record, root)
        if record is not None and root is not None:
            nodes, edges = self._with_constants(record, nodes, edges, evaluation.names)
        root_id = self.ids[root.grad_fn] if root is not None and root.grad_fn is not None else None
        if self.on_shape is not None:
            self.on_shape(GraphShape(root=root_id, nodes=nodes, edges=edges))
        # The program ran on after the last pass, and writes through `.data` change a tensor
        # without bumping its version: the last pass's memo could show values from before them.
        self.summaries = Summaries()
        self.log.before(evaluation.names, self.summaries)
        return GraphData(
            root=root_id,
            root_name=root_name,
            variables=_variables(evaluation.names, self.summaries),
            nodes=nodes,
            edges=edges,
            stdout=evaluation.stdout,
            warnings=notes,
            backward_passes=self.log.entries,
            gradcheck=self._gradcheck(record, root),
            chain_rule=chain_rule(nodes, edges, root_id),
        )

    def _root(
        self, evaluation: Evaluation, output: str | None
    ) -> tuple[str | None, torch.Tensor | None]:
        if output is not None:
            value = evaluation.names.get(output)
            if not isinstance(value, torch.Tensor):
                what = "is not defined" if value is None else "is not a tensor"
                raise ProgramError(
                    "Unknown output",
                    f"the output '{output}' {what} at the end of the program",
                    kind="bad-output",
                )
            if value.grad_fn is None:
                raise ProgramError(
                    "No graph",
                    f"'{output}' has no grad_fn, so there is no "
                    "graph to draw: it is a leaf or does not require grad",
                    kind="bad-output",
                )
            return output, value
        program_passes = [p for p in self.passes if p.kind != "server" and p.nodes]
        if program_passes:
            root = program_passes[-1].roots[0]
            return _name_of(root, evaluation.names), root
        name = evaluation.last_graph_name
        value = evaluation.names.get(name) if name else None
        if isinstance(value, torch.Tensor) and value.grad_fn is not None:
            return name, value
        return None, None

    def _pass_for(self, root: torch.Tensor) -> BackwardPass | None:
        for record in reversed(self.passes):
            if any(r is root for r in record.roots):
                return record
        return None

    def _server_backward(
        self, root: torch.Tensor, name: str | None, evaluation: Evaluation, notes: list[str]
    ) -> BackwardPass:
        gradient = None
        if root.numel() != 1:
            gradient = torch.ones_like(root)
            notes.append(
                f"'{name}' is not a scalar (shape {list(root.shape)}), so backward "
                "started from a gradient of ones, as if it were summed."
            )
        try:
            self.run_backward(
                "server",
                [root],
                evaluation.names,
                lambda: root.backward(gradient),  # type: ignore[no-untyped-call]
            )
        except RuntimeError as error:
            notes.append(
                f"Backward from '{name}' failed, so gradients are missing: {explain(str(error))}"
            )
        return self.passes[-1]

    def _graph(
        self, record: BackwardPass | None, root: torch.Tensor | None
    ) -> tuple[list[NodeInfo], list[EdgeInfo]]:
        if record is None or root is None or root.grad_fn is None:
            return [], []
        root_node = root.grad_fn
        reachable = _reachable(root_node, record.edges)
        nodes = [
            NodeInfo(
                id=self.ids[node],
                op=snap.op,
                kind="root"
                if node is root_node
                else ("leaf" if snap.op == "AccumulateGrad" else "op"),
                variables=snap.variables,
                shape=snap.shape,
                dtype=snap.dtype,
                value=snap.value,
                grad=record.grads.get(node),
                saved=snap.saved,
                backward_step=record.steps.get(node),
            )
            for node in record.nodes
            if node in reachable
            for snap in (record.snapshots[node],)
        ]
        edges = [
            EdgeInfo(
                source=self.ids[source],
                target=self.ids[target],
                input_nr=input_nr,
                grad=record.edge_grads.get((target, input_nr)),
                local=_at(record.snapshots[target].local, input_nr),
            )
            for source, target, input_nr in record.edges
            if target in reachable
        ]
        return nodes, edges

    def _with_constants(
        self,
        record: BackwardPass,
        nodes: list[NodeInfo],
        edges: list[EdgeInfo],
        names: dict[str, Any],
    ) -> tuple[list[NodeInfo], list[EdgeInfo]]:
        """Add the tensors the program cut from the graph where the drawn ops used them.

        Autograd has no trace of them (next_functions holds None), so the tape tells which
        tensors each op was called with.
        """
        labels = _names_by_tensor(names)
        in_graph = {id(getattr(node, "variable", None)) for node in record.nodes}
        by_id = {self.ids[node]: node for node in record.nodes}
        constants: dict[int, NodeInfo] = {}
        cut_edges: list[EdgeInfo] = []
        for info in nodes:
            output = self.values.get(by_id[info.id])
            entry = self.tape.entry(output) if output is not None else None
            if info.kind == "leaf" or entry is None:
                continue
            for position, tensor in enumerate(entry.inputs()):
                cut = self.tape.cut(tensor)
                if cut is None or id(tensor) in in_graph:
                    continue
                const_id = self.const_ids.setdefault(id(tensor), next(self.counter))
                constants[const_id] = NodeInfo(
                    id=const_id,
                    op="constant",
                    kind="const",
                    variables=labels.get(id(tensor), []),
                    shape=list(tensor.shape),
                    dtype=dtype_name(tensor.dtype),
                    value=summarize(tensor),
                    grad=None,
                    saved={},
                    backward_step=None,
                    note=cut.note(),
                )
                edge = EdgeInfo(source=const_id, target=info.id, input_nr=position, grad=None)
                cut_edges.append(edge.model_copy(update={"cut": True}))
        return [*nodes, *constants.values()], [*edges, *cut_edges]

    def _gradcheck(
        self, record: BackwardPass | None, root: torch.Tensor | None
    ) -> dict[str, GradCheckInfo]:
        if record is None or root is None or root.grad_fn is None:
            return {}
        reachable = _reachable(root.grad_fn, record.edges)
        leaves = [
            LeafGradient(
                name=(record.snapshots[node].variables or [f"leaf#{self.ids[node]}"])[0],
                tensor=getattr(node, "variable"),  # noqa: B009 - not typed on Node
                autograd=record.leaf_grads.get(node),
            )
            for node in record.nodes
            if node in reachable and record.snapshots[node].op == "AccumulateGrad"
        ]
        return check_gradients(
            self.tape, root, leaves, record.kind == "server", self.limits.gradcheck_s
        )


def _local_derivatives(node: Node, output: torch.Tensor | None) -> list[float | None]:
    """d(output)/d(each input) of a node with a one-element output, by running its backward
    function on a gradient of 1 before the real backward frees what it saved."""
    if output is None or output.numel() != 1:
        return []
    forward_cls = getattr(node, "_forward_cls", None)
    if isinstance(forward_cls, type) and issubclass(forward_cls, ProgramFunction):
        return []  # the program's own backward: run once, by backward, as in PyTorch
    try:
        with torch.no_grad():
            grads = node(torch.ones_like(output))  # type: ignore[operator] # C++ nodes are callable
    except (RuntimeError, TypeError):  # several outputs, or nothing saved any more
        return []
    grads = grads if isinstance(grads, tuple) else (grads,)
    return [
        float(g.reshape(-1)[0]) if isinstance(g, torch.Tensor) and g.numel() == 1 else None
        for g in grads
    ]


def _signed(value: Any) -> Any:
    """Autograd hands saved int64 arguments back as unsigned 64-bit integers: cross-entropy's
    ignore_index=-100 reads 18446744073709551516. Learners should see -100."""
    return value - 2**64 if isinstance(value, int) and value >= 2**63 else value


def _at(items: list[float | None], index: int) -> float | None:
    return items[index] if index < len(items) else None


def _reachable(root: Node, edges: list[tuple[Node, Node, int]]) -> set[Node]:
    inputs: dict[Node, list[Node]] = {}
    for source, target, _ in edges:
        inputs.setdefault(target, []).append(source)
    seen = {root}
    stack = [root]
    while stack:
        for child in inputs.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _names_by_tensor(names: dict[str, Any]) -> dict[int, list[str]]:
    """User names of tensors (and of module parameters, by path), keyed by tensor identity.

    The ids are only used while `names` keeps every tensor alive.
    """
    labels: dict[int, list[str]] = {}
    for name, tensor in named_tensors(names):
        labels.setdefault(id(tensor), []).append(name)
    return labels


def _name_of(tensor: torch.Tensor, names: dict[str, Any]) -> str | None:
    return next((name for name, value in names.items() if value is tensor), None)


def _variables(names: dict[str, Any], summarize: Summarize) -> dict[str, VariableInfo]:
    variables = {}
    for name, value in names.items():
        if not isinstance(value, torch.Tensor):
            continue
        # .grad of a non-leaf that does not retain it is None; reading it would warn.
        has_grad = value.is_leaf or value.retains_grad
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grad = value.grad if has_grad else None
        variables[name] = VariableInfo(
            value=summarize(value),
            grad=summarize(grad),
            shape=list(value.shape),
            dtype=dtype_name(value.dtype),
            requires_grad=value.requires_grad,
            is_leaf=value.is_leaf,
            grad_fn=value.grad_fn.name() if value.grad_fn is not None else None,
        )
    return variables
