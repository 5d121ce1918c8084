"""Stage 3: walk the autograd graph and capture every node's and edge's gradient.

The interpreter hands each backward call to `GraphCapture.run_backward`. Before backward runs
(and frees saved tensors) the graph is walked iteratively from the roots, each node's forward
value and saved tensors are read, and a hook is placed on every node: it numbers the nodes in
the order backward runs them and records `grad_outputs` (the gradient of the node's output)
and `grad_inputs` (the gradient along each edge, aligned with `next_functions`).

For teaching, it also keeps the timeline of passes (app.worker.passes), the forward calls
(app.worker.tape) that let the gradient check (app.worker.gradcheck) recompute the root and
that show where the program cut the graph, and reads the chain rule off the gradients
(app.worker.chainrule).
"""

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.autograd.graph import Node

from app.contract.errors import ProgramError, too_big
from app.contract.graphs import distances_to, layers, reached_from
from app.contract.schemas import (
    ChainRuleInfo,
    EdgeInfo,
    GradCheckInfo,
    GraphData,
    GraphExtras,
    GraphShape,
    GroupInfo,
    NodeInfo,
    VariableInfo,
)
from app.contract.settings import Limits
from app.contract.text import write_texts
from app.worker.chainrule import chain_rule
from app.worker.gradcheck import LeafGradient, check_gradients
from app.worker.json_forms import JsonFormMemo, ToJsonForm, dtype_name, json_form, shape_of
from app.worker.learner_errors import explain
from app.worker.modules import ModuleCalls
from app.worker.modules import attribute as attribute_nodes
from app.worker.passes import PassLog, named_tensors
from app.worker.sandbox.classes import ProgramFunction
from app.worker.sandbox.interpreter import Call, Evaluation
from app.worker.tape import Tape

UNREADABLE = object()  # a saved value that cannot be read


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

    started_by: str  # "backward", "grad" (torch.autograd.grad) or "server"
    roots: list[torch.Tensor]
    nodes: list[Node]
    edges: list[tuple[Node, Node, int]]
    snapshots: dict[Node, NodeSnapshot]
    grads: dict[Node, Any] = field(default_factory=dict)
    edge_grads: dict[tuple[Node, int], Any] = field(default_factory=dict)
    steps: dict[Node, int] = field(default_factory=dict)
    leaf_grads: dict[Node, torch.Tensor] = field(default_factory=dict)  # for gradcheck
    pruned: bool = False  # its graph and gradients were let go: it can no longer be drawn

    def prune(self) -> None:
        self.nodes, self.edges, self.snapshots = [], [], {}
        self.grads, self.edge_grads, self.steps, self.leaf_grads = {}, {}, {}, {}
        self.pruned = True


class GraphCapture:
    """Observes a program's backward calls; builds the answer when the program is done."""

    def __init__(
        self,
        limits: Limits,
        on_shape: Callable[[GraphShape], None] | None = None,
        output: str | None = None,
    ) -> None:
        self.limits = limits
        self.on_shape = on_shape  # told the graph as soon as it is known
        self.output = output  # the variable the request asks to draw, if any
        self.drawable: list[BackwardPass] = []  # passes that still hold their graph
        self.ids: dict[Node, int] = {}  # our own ids: id() can be reused after collection
        self.const_ids: dict[int, int] = {}  # by id() of a tensor the tape keeps alive
        self.counter = itertools.count()
        self.values: dict[Node, torch.Tensor] = {}
        self.passes: list[BackwardPass] = []
        self.saved_names: dict[type, list[str]] = {}
        self.tape = Tape()
        self.log = PassLog()
        self.json_forms = JsonFormMemo()
        self.modules = ModuleCalls()  # which module call made each node
        self.faults: list[str] = []  # parts of the capture that failed, told to the learner
        # The pass and root `finish` drew, which `extras` checks.
        self.checked: tuple[BackwardPass | None, torch.Tensor | None] = (None, None)

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
        self,
        started_by: str,
        roots: list[torch.Tensor],
        names: dict[str, Any],
        call: Callable[[], Any],
    ) -> Any:
        # A memo holds only while no program code runs: one per pass, and one for the end.
        self.json_forms = JsonFormMemo()
        self._safely("the .grad of the leaves", lambda: self.log.before(names, self.json_forms))
        handles: list[Any] = []
        try:
            record = self.walk(started_by, roots, names)
            handles = [handle for node in record.nodes for handle in self._hook(record, node)]
        except ProgramError:
            raise
        except Exception as error:
            # Our own failure must not change what the program does: its backward still runs,
            # and this pass is kept without its graph (so the server does not run it again).
            for handle in handles:
                handle.remove()
            handles, record = [], BackwardPass(started_by, roots, [], [], {})
            self._fault("the graph of a backward pass", error)
        try:
            result = call()
        finally:
            for handle in handles:
                handle.remove()
            self.passes.append(record)
        self._prune(record, names)
        root = _name_of(roots[0], names)
        self._safely(
            "the .grad of the leaves",
            lambda: self.log.after(started_by, root, names, self.json_forms),
        )
        return result

    def _prune(self, latest: BackwardPass, names: dict[str, Any]) -> None:
        """Let go of the graph and gradients of passes that can no longer be drawn, so that
        many passes over a big graph do not keep one full record each: only the latest pass
        and the latest from the tensor now bound to the requested output may be drawn."""
        wanted = names.get(self.output) if self.output else None
        keep = [latest]
        if isinstance(wanted, torch.Tensor):
            keep += [
                next(
                    (p for p in reversed(self.drawable) if any(r is wanted for r in p.roots)),
                    latest,
                )
            ]
        for record in self.drawable:
            if all(record is not kept for kept in keep):
                record.prune()
        self.drawable = [record for record in self.drawable if not record.pruned]
        if all(record is not latest for record in self.drawable):
            self.drawable.append(latest)

    def _safely(self, what: str, work: Callable[[], None]) -> None:
        try:
            work()
        except ProgramError:
            raise
        except Exception as error:
            self._fault(what, error)

    def _fault(self, what: str, error: Exception) -> None:
        self.faults.append(
            f"The explorer could not read {what} ({type(error).__name__}); "
            "the rest of the answer is PyTorch's."
        )

    # Walking and hooking ---------------------------------------------------------------

    def walk(
        self, started_by: str, roots: list[torch.Tensor], names: dict[str, Any]
    ) -> BackwardPass:
        """Visit every node reachable from the roots, numbering each and noting its edges."""
        labels = _names_by_tensor(names)
        nodes: list[Node] = []
        edges: list[tuple[Node, Node, int]] = []

        def inputs(node: Node) -> list[Node]:
            found = []
            for input_nr, (child, _) in enumerate(node.next_functions):
                if child is not None:
                    edges.append((child, node, input_nr))
                    found.append(child)
            # One tensor stacked thousands of times is one node with thousands of edges.
            if len(edges) > self.limits.max_graph_edges:
                raise too_big(
                    f"the graph has more than {self.limits.max_graph_edges} edges "
                    "(inputs of its operations)"
                )
            return found

        starts = [root.grad_fn for root in roots if root.grad_fn is not None]
        for node in reached_from(starts, inputs):
            nodes.append(node)
            if len(nodes) > self.limits.max_graph_nodes:
                raise too_big(f"the graph has more than {self.limits.max_graph_nodes} nodes")
            if node not in self.ids:
                self.ids[node] = next(self.counter)
        snapshots = {node: self._snapshot(node, labels) for node in nodes}
        return BackwardPass(started_by, roots, nodes, edges, snapshots)

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
            shape=shape_of(tensor) if tensor is not None else None,
            dtype=dtype_name(tensor.dtype) if tensor is not None else None,
            value=self.json_forms(tensor) if tensor is not None else None,
            saved=self._saved(node),
            local=_local_derivatives(node, tensor) if op != "AccumulateGrad" else [],
        )

    def _saved(self, node: Node) -> dict[str, Any]:
        node_type = type(node)
        if node_type not in self.saved_names:
            self.saved_names[node_type] = [a for a in dir(node) if a.startswith("_saved_")]
        saved: dict[str, Any] = {}
        for attribute in self.saved_names[node_type]:
            try:
                value = _signed(getattr(node, attribute))
            except Exception:  # already freed by an earlier backward, or not readable
                value = UNREADABLE
            if value is not UNREADABLE:
                saved[attribute.removeprefix("_saved_")] = self.json_forms(value)
        return saved

    def _hook(self, record: BackwardPass, node: Node) -> list[Any]:
        def after(
            grad_inputs: tuple[torch.Tensor | None, ...],
            grad_outputs: tuple[torch.Tensor | None, ...],
        ) -> None:
            # An exception here would be raised by the program's backward() as its own.
            try:
                self._record(record, node, grad_inputs, grad_outputs)
            except Exception as error:
                self._fault("a gradient", error)

        return [node.register_hook(after)]

    def _record(
        self,
        record: BackwardPass,
        node: Node,
        grad_inputs: tuple[torch.Tensor | None, ...],
        grad_outputs: tuple[torch.Tensor | None, ...],
    ) -> None:
        """What flowed through `node` as backward ran it."""
        # The CPU engine runs one node at a time, so the order nodes finish in is the
        # order they ran in: no pre-hook is needed to number them.
        record.steps[node] = len(record.steps) + 1
        outputs = [self.json_forms(g) for g in grad_outputs]
        record.grads[node] = outputs[0] if len(outputs) == 1 else outputs
        for input_nr, grad in enumerate(grad_inputs):
            record.edge_grads[(node, input_nr)] = self.json_forms(grad)
        if record.snapshots[node].op == "AccumulateGrad" and grad_outputs[0] is not None:
            record.leaf_grads[node] = grad_outputs[0].detach().clone()
        if record.snapshots[node].shape is None:
            first = next((g for g in grad_outputs if g is not None), None)
            if first is not None:
                record.snapshots[node].shape = shape_of(first)
                record.snapshots[node].dtype = dtype_name(first.dtype)

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
        if record is not None and record.pruned and root is not None:
            notes.append(
                f"The gradients of the pass from '{root_name}' were not kept: only the last "
                "backward pass, and the last from the output asked for, keep theirs. Its graph "
                "is drawn without them."
            )
            try:
                record = self.walk(record.started_by, [root], evaluation.names)
                record.pruned = True
            except ProgramError:
                raise
            except Exception as error:
                record = None
                self._fault("the graph of that pass", error)
        if root is None:
            notes.append(
                "No tensor in this program has an autograd graph yet: create one with "
                "requires_grad=True and compute something from it."
            )
        nodes, edges = self._graph(record, root)
        if record is not None and root is not None:
            try:
                nodes, edges = self._with_constants(record, nodes, edges, evaluation.names)
            except Exception as error:  # drawn without them
                self._fault("the tensors the program cut from the graph", error)
        groups: list[GroupInfo] = []
        if record is not None:
            try:
                nodes, groups = self._groups(record, nodes, edges, evaluation.names)
            except Exception as error:  # drawn without them
                self._fault("which module made each node", error)
        root_node = root.grad_fn if root is not None else None
        root_id = self.ids.get(root_node) if root_node is not None else None
        shape = GraphShape(root=root_id, nodes=nodes, edges=edges, groups=groups)
        write_texts(shape, layers(shape))
        if self.on_shape is not None:
            self.on_shape(shape)
        # The program ran on after the last pass: its memo could show values from before then.
        self.json_forms = JsonFormMemo()
        self._safely(
            "the .grad of the leaves", lambda: self.log.before(evaluation.names, self.json_forms)
        )
        variables = _variables(evaluation.names, self.json_forms)
        self.checked = (record, root)
        rules: dict[str, ChainRuleInfo] = {}
        try:
            rules = chain_rule(nodes, edges, root_id)
        except Exception as error:
            self._fault("the chain rule", error)
        return GraphData(
            root=root_id,
            root_name=root_name,
            variables=variables,
            nodes=nodes,
            edges=edges,
            groups=groups,
            stdout=evaluation.stdout,
            warnings=[
                *notes,
                *self.log.notes(),
                *_unusual_notes(evaluation.names),
                *dict.fromkeys(self.faults),
            ],
            backward_passes=self.log.entries,
            chain_rule=rules,
        )

    def extras(self) -> GraphExtras:
        """After `finish`: the gradient check of the graph it drew, and what failed in it.
        Kept apart because its cost is not bounded by the graph's size: the answer's drawing
        and core fields need not wait for it."""
        record, root = self.checked
        faults = len(self.faults)
        gradcheck: dict[str, GradCheckInfo] = {}
        try:
            gradcheck = self._gradcheck(record, root)
        except Exception as error:
            self._fault("the gradient check", error)
        return GraphExtras(gradcheck=gradcheck, warnings=self.faults[faults:])

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
                    slug="bad-output",
                )
            if value.grad_fn is None:
                raise ProgramError(
                    "No graph",
                    f"'{output}' has no grad_fn, so there is no "
                    "graph to draw: it is a leaf or does not require grad",
                    slug="bad-output",
                )
            return output, value
        program_passes = [
            p for p in self.passes if p.started_by != "server" and (p.nodes or p.pruned)
        ]
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
    ) -> BackwardPass | None:
        gradient = None
        if root.is_complex():
            gradient = torch.ones_like(root)
            notes.append(
                f"'{name}' is complex, and PyTorch backpropagates only real scalars on its "
                f"own, so backward started from a gradient of ones, as "
                f"{name}.backward(torch.ones_like({name})) does."
            )
        elif root.numel() != 1:
            gradient = torch.ones_like(root)
            notes.append(
                f"'{name}' is not a scalar (shape {shape_of(root)}), so backward "
                "started from a gradient of ones, as if it were summed."
            )
        passes = len(self.passes)
        try:
            self.run_backward(
                "server",
                [root],
                evaluation.names,
                lambda: root.backward(gradient),  # type: ignore[no-untyped-call]
            )
        except (RuntimeError, TypeError, ValueError, NotImplementedError) as error:
            notes.append(
                f"Backward from '{name}' failed, so gradients are missing: {explain(str(error))}"
            )
        return self.passes[-1] if len(self.passes) > passes else None

    def _graph(
        self, record: BackwardPass | None, root: torch.Tensor | None
    ) -> tuple[list[NodeInfo], list[EdgeInfo]]:
        if record is None or root is None or root.grad_fn is None:
            return [], []
        root_node = root.grad_fn
        reachable = _reaching(root_node, record.edges)
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

    def _groups(
        self,
        record: BackwardPass,
        nodes: list[NodeInfo],
        edges: list[EdgeInfo],
        names: dict[str, Any],
    ) -> tuple[list[NodeInfo], list[GroupInfo]]:
        """Each node's module call, from the sequence numbers autograd gave the nodes."""
        sequence: dict[int, int] = {}
        leaves: dict[int, int] = {}
        for node in record.nodes:
            if type(node).__name__ == "AccumulateGrad":
                leaves[self.ids[node]] = id(getattr(node, "variable", None))
            else:
                sequence[self.ids[node]] = int(node._sequence_nr())
        return attribute_nodes(self.modules, sequence, nodes, edges, names, leaves)

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
                    shape=shape_of(tensor),
                    dtype=dtype_name(tensor.dtype),
                    value=json_form(tensor),
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
        if record is None or record.pruned or root is None or root.grad_fn is None:
            return {}
        reachable = _reaching(root.grad_fn, record.edges)
        leaves = [
            LeafGradient(
                name=(record.snapshots[node].variables or [f"leaf#{self.ids[node]}"])[0],
                tensor=getattr(node, "variable"),  # noqa: B009 - not typed on Node
                autograd=record.leaf_grads.get(node),
            )
            for node in record.nodes
            if node in reachable and record.snapshots[node].op == "AccumulateGrad"
        ]
        return check_gradients(self.tape, root, leaves, record.started_by == "server", self.limits)


def _local_derivatives(node: Node, output: torch.Tensor | None) -> list[float | None]:
    """d(output)/d(each input) of a node with a real one-element output, by running its
    backward function on a gradient of 1 before the real backward frees what it saved.

    Only real numbers are kept: a derivative into a complex input, or a sparse one, is not
    one real factor of the chain rule."""
    if output is None or not _real_scalar(output):
        return []
    forward_cls = getattr(node, "_forward_cls", None)
    if isinstance(forward_cls, type) and issubclass(forward_cls, ProgramFunction):
        return []  # the program's own backward: run once, by backward, as in PyTorch
    try:
        with torch.no_grad():
            grads = node(torch.ones_like(output))  # type: ignore[operator] # C++ nodes are callable
        grads = grads if isinstance(grads, tuple) else (grads,)
        return [float(g.reshape(-1)[0]) if _real_scalar(g) else None for g in grads]
    except Exception:  # several outputs, nothing saved any more, or an unusual kind of tensor
        return []


def _real_scalar(value: Any) -> bool:
    return (
        isinstance(value, torch.Tensor)
        and value.layout == torch.strided
        and value.is_floating_point()
        and value.numel() == 1
    )


def _unusual_notes(names: dict[str, Any]) -> list[str]:
    """Say which named tensors and gradients are sparse: their values are shown dense."""
    notes = []
    for name, tensor in named_tensors(names):
        for what, value in ((name, tensor), (f"{name}.grad", _grad_of(tensor))):
            if isinstance(value, torch.Tensor) and value.layout != torch.strided:
                layout = str(value.layout).removeprefix("torch.")
                notes.append(f"{what} is a {layout} tensor; its values are shown dense.")
    return notes


def _grad_of(tensor: torch.Tensor) -> torch.Tensor | None:
    """.grad where reading it does not warn (a non-leaf that does not retain it)."""
    return tensor.grad if tensor.is_leaf or tensor.retains_grad else None


def _signed(value: Any) -> Any:
    """Autograd hands saved int64 arguments back as unsigned 64-bit integers: cross-entropy's
    ignore_index=-100 reads 18446744073709551516. Learners should see -100."""
    return value - 2**64 if isinstance(value, int) and value >= 2**63 else value


def _at(items: list[float | None], index: int) -> float | None:
    return items[index] if index < len(items) else None


def _reaching(root: Node, edges: list[tuple[Node, Node, int]]) -> set[Node]:
    """The nodes of a pass that reach `root`: those backward from it goes through."""
    return set(distances_to(root, ((source, target) for source, target, _ in edges)))


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


def _variables(names: dict[str, Any], json_form: ToJsonForm) -> dict[str, VariableInfo]:
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
            value=json_form(value),
            grad=json_form(grad),
            shape=shape_of(value) or [],
            dtype=dtype_name(value.dtype),
            requires_grad=value.requires_grad,
            is_leaf=value.is_leaf,
            grad_fn=type(value.grad_fn).__name__ if value.grad_fn is not None else None,
        )
    return variables
