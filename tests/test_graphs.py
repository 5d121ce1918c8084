"""app/contract/graphs.py: the walks over a graph's edges that capture, the drawing and the
chain rule share, checked by what they must hold on any graph, and on PyTorch's own graphs."""

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.autograd.graph import Node

from app.contract.graphs import backward_order, distances_to, reached_from
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate

# Random graphs of up to 12 nodes whose edges point from a lower number to a higher one
# (acyclic, as autograd's are), repeated edges included (x * x); the root is the highest.
dags = st.lists(
    st.tuples(st.integers(0, 10), st.integers(1, 11)).filter(lambda edge: edge[0] < edge[1]),
    max_size=40,
)


@given(dags)
def test_distances_are_the_fewest_edges_to_the_root(edges: list[tuple[int, int]]) -> None:
    distance = distances_to(11, edges)
    assert distance[11] == 0
    for source, target in edges:
        if target in distance:  # every input of a node that reaches the root reaches it
            assert distance[source] <= distance[target] + 1
    for node, steps in distance.items():  # and each one through a node one step nearer
        if node != 11:
            assert any(distance.get(t) == steps - 1 for s, t in edges if s == node)


@given(dags)
def test_backward_order_takes_a_node_once_every_node_it_feeds_is_done(
    edges: list[tuple[int, int]],
) -> None:
    order = backward_order(11, edges)
    assert sorted(order) == sorted(distances_to(11, edges))
    position = {node: index for index, node in enumerate(order)}
    for source, target in edges:  # of what it feeds, what reaches the root is done first
        if target in position:
            assert position[target] < position[source]


@given(dags)
def test_a_walk_reaches_each_node_once(edges: list[tuple[int, int]]) -> None:
    """Walking inputs from the root reaches exactly what reaches the root."""
    inputs: dict[int, list[int]] = {}
    for source, target in edges:
        inputs.setdefault(target, []).append(source)
    walked = list(reached_from([11], lambda node: inputs.get(node, [])))
    assert len(walked) == len(set(walked))
    assert set(walked) == set(distances_to(11, edges))


def test_a_walk_is_depth_first_and_lazy() -> None:
    """The last input first, as capture has always numbered the nodes; a node's inputs are
    asked for only once it is taken, so a walk stopped early asks no more."""
    inputs = {0: [1, 2], 1: [3], 2: [3, 4], 3: [], 4: []}
    asked: list[int] = []

    def ask(node: int) -> list[int]:
        asked.append(node)
        return inputs[node]

    assert list(reached_from([0], ask)) == [0, 2, 4, 3, 1]
    walk = reached_from([0], ask)
    asked.clear()
    assert [next(walk), next(walk)] == [0, 2]
    assert asked == [0]


def test_nodes_that_do_not_reach_the_root_are_left_out() -> None:
    edges = [(1, 2), (2, 3), (4, 2), (3, 5)]  # 5 is fed by the root; 4 feeds 2 only
    assert distances_to(3, edges) == {3: 0, 2: 1, 1: 2, 4: 2}
    assert backward_order(3, edges)[0] == 3
    assert set(backward_order(3, edges)) == {1, 2, 3, 4}
    assert distances_to(9, edges) == {9: 0}


def test_a_cycle_is_left_out_of_the_order_but_not_of_the_distances() -> None:
    edges = [(1, 2), (2, 1), (2, 3)]
    assert distances_to(3, edges) == {3: 0, 2: 1, 1: 2}
    assert backward_order(3, edges) == [3]


def test_a_chain_as_deep_as_a_long_loop_is_walked_without_recursion() -> None:
    steps = 200_000
    edges = [(i + 1, i) for i in range(steps)]
    assert distances_to(0, edges)[steps] == steps
    assert backward_order(0, edges)[-1] == steps


def inputs(node: Node | None) -> list[Node]:
    assert node is not None
    found = [child for child, _ in node.next_functions]
    assert all(child is not None for child in found)
    return found  # type: ignore[return-value] # checked above


def test_pytorchs_graph_is_walked_as_backward_walks_it() -> None:
    """On PyTorch's own nodes: every node backward runs, and each after its consumers, as the
    engine's own order (the order the hooks fire in) has them."""
    x = torch.tensor(2.0, requires_grad=True)
    y = x * x
    z = y.sin() + y.cos() * x
    add = z.grad_fn
    assert add is not None
    sin, product = inputs(add)
    cos, leaf = inputs(product)
    (square,) = inputs(sin)
    assert inputs(cos) == [square]
    assert inputs(square) == [leaf, leaf]
    edges = [(sin, add), (product, add), (cos, product), (leaf, product)]
    edges += [(square, sin), (square, cos), (leaf, square), (leaf, square)]
    ran: list[Node] = []
    for node in {source for source, _ in edges} | {add}:
        node.register_hook(lambda *_, node=node: ran.append(node))
    z.backward()  # type: ignore[no-untyped-call]
    assert set(distances_to(add, edges)) == set(ran)
    assert len(ran) == 6
    order = backward_order(add, edges)
    assert order[0] is add
    assert set(order) == set(ran)
    position = {node: index for index, node in enumerate(order)}
    assert all(position[target] < position[source] for source, target in edges)
    engine = {node: index for index, node in enumerate(ran)}
    assert all(engine[target] < engine[source] for source, target in edges)


def test_the_answer_keeps_what_reaches_the_root_of_a_pass_of_two_roots() -> None:
    """A pass from two roots walks both; the graph drawn is the first root's: the other
    root's own operations are not in it."""
    code = (
        "import torch\nx = torch.tensor(1.0, requires_grad=True)\nz = x.exp()\nw = x * 3\n"
        "torch.autograd.backward([z, w])\n"
    )
    graph = evaluate(GraphRequest(code=code), Limits())
    assert sorted(node.op for node in graph.nodes) == ["AccumulateGrad", "ExpBackward0"]
    assert [(edge.source, edge.target) for edge in graph.edges] == [
        (next(n.id for n in graph.nodes if n.kind == "leaf"), graph.root)
    ]
