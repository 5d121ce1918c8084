"""Stage 3: walk the autograd graph and capture every node's and edge's gradient.

The interpreter hands each backward call to `GraphCapture.run_backward`. Before backward runs
(and frees saved tensors) the graph is walked iteratively from the roots, each node's forward
value and saved tensors are read, and hooks are placed: a pre-hook numbers the nodes in the
order backward runs them, a hook records `grad_outputs` (the gradient of the node's output)
and `grad_inputs` (the gradient along each edge, aligned with `next_functions`).
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.autograd.graph import Node

from app.sandbox.errors import ProgramError, too_big
from app.sandbox.interpreter import Evaluation
from app.schemas import EdgeInfo, GraphData, NodeInfo, VariableInfo
from app.settings import Limits
from app.summary import dtype_name, summarize


@dataclass
class NodeSnapshot:
    """What is known of a node before backward runs."""

    op: str
    variables: list[str]
    shape: list[int] | None
    dtype: str | None
    value: Any
    saved: dict[str, Any]


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


class GraphCapture:
    """Observes a program's backward calls; builds the answer when the program is done."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.ids: dict[Node, int] = {}  # our own ids: id() can be reused after collection
        self.values: dict[Node, torch.Tensor] = {}
        self.passes: list[BackwardPass] = []
        self.saved_names: dict[type, list[str]] = {}

    # Called by the interpreter ---------------------------------------------------------

    def produced(self, value: Any) -> None:
        """Remember forward values, so that nodes without a user name still show theirs."""
        items = value if isinstance(value, tuple | list) else (value,)
        for item in items[:16]:
            if isinstance(item, torch.Tensor) and item.grad_fn is not None:
                self.values.setdefault(item.grad_fn, item)

    def run_backward(
        self, kind: str, roots: list[torch.Tensor], names: dict[str, Any], call: Callable[[], Any]
    ) -> Any:
        record = self.walk(kind, roots, names)
        handles = [handle for node in record.nodes for handle in self._hook(record, node)]
        try:
            return call()
        finally:
            for handle in handles:
                handle.remove()
            self.passes.append(record)

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
            self.ids.setdefault(node, len(self.ids))
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
            value=summarize(tensor) if tensor is not None else None,
            saved=self._saved(node),
        )

    def _saved(self, node: Node) -> dict[str, Any]:
        kind = type(node)
        if kind not in self.saved_names:
            self.saved_names[kind] = [a for a in dir(node) if a.startswith("_saved_")]
        saved: dict[str, Any] = {}
        for attribute in self.saved_names[kind]:
            try:
                saved[attribute.removeprefix("_saved_")] = summarize(getattr(node, attribute))
            except RuntimeError:  # already freed by an earlier backward
                continue
        return saved

    def _hook(self, record: BackwardPass, node: Node) -> list[Any]:
        def before(grad_outputs: tuple[torch.Tensor | None, ...]) -> None:
            record.steps[node] = len(record.steps) + 1

        def after(
            grad_inputs: tuple[torch.Tensor | None, ...],
            grad_outputs: tuple[torch.Tensor | None, ...],
        ) -> None:
            outputs = [summarize(g) for g in grad_outputs]
            record.grads[node] = outputs[0] if len(outputs) == 1 else outputs
            for input_nr, grad in enumerate(grad_inputs):
                record.edge_grads[(node, input_nr)] = summarize(grad)
            if record.snapshots[node].shape is None:
                first = next((g for g in grad_outputs if g is not None), None)
                if first is not None:
                    record.snapshots[node].shape = list(first.shape)
                    record.snapshots[node].dtype = dtype_name(first.dtype)

        return [node.register_prehook(before), node.register_hook(after)]

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
        return GraphData(
            root=self.ids[root.grad_fn] if root is not None and root.grad_fn is not None else None,
            root_name=root_name,
            variables=_variables(evaluation.names),
            nodes=nodes,
            edges=edges,
            stdout=evaluation.stdout,
            warnings=notes,
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
            notes.append(f"Backward from '{name}' failed, so gradients are missing: {error}")
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
            )
            for source, target, input_nr in record.edges
            if target in reachable
        ]
        return nodes, edges


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
    for name, value in names.items():
        if isinstance(value, torch.Tensor):
            labels.setdefault(id(value), []).append(name)
        elif isinstance(value, nn.Module):
            for path, parameter in value.named_parameters():
                labels.setdefault(id(parameter), []).append(f"{name}.{path}")
    return labels


def _name_of(tensor: torch.Tensor, names: dict[str, Any]) -> str | None:
    return next((name for name, value in names.items() if value is tensor), None)


def _variables(names: dict[str, Any]) -> dict[str, VariableInfo]:
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
