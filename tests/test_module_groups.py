"""Module groups: which module call made each node, the views that collapse and roll them,
and POST /api/graph/view, checked against plain PyTorch where numbers appear."""

import time
from xml.etree import ElementTree

import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from app.contract.schemas import GraphData, GraphRequest, GraphView
from app.contract.settings import Limits
from app.server.render import build_dot
from app.server.views import WHOLE_NODES, apply_view, default_view, rolls
from app.worker.evaluate import DEFAULT_SEED, evaluate

RNN_CELL = """import torch
import torch.nn as nn
cell = nn.RNNCell(4, 8)
x = torch.randn(12, 3, 4)
h = torch.zeros(3, 8)
for t in range(12):
    h = cell(x[t], h)
loss = h.pow(2).mean()
loss.backward()
"""

TRANSFORMER = """import torch
import torch.nn as nn
layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0,
                                   batch_first=True)
model = nn.TransformerEncoder(layer, num_layers=2)
x = torch.randn(2, 5, 32)
loss = model(x).pow(2).mean()
loss.backward()
"""


def run(code: str) -> GraphData:
    return evaluate(GraphRequest(code=code), Limits())


def test_each_step_of_a_cell_loop_is_one_group_with_its_own_operations() -> None:
    graph = run(RNN_CELL)
    assert [(g.module, g.type, g.call, g.parent) for g in graph.groups] == [
        ("cell", "RNNCell", step, None) for step in range(12)
    ]
    by_id = {node.id: node for node in graph.nodes}
    for group in graph.groups:
        ops = sorted(by_id[node_id].op for node_id in group.nodes)
        steps = ["AddmmBackward0", "AddmmBackward0", "TBackward0", "TBackward0"]
        assert ops == sorted([*steps, "AddBackward0", "TanhBackward0"])
        assert all(by_id[i].module == "cell" and by_id[i].call == group.call for i in group.nodes)
    # The weights are shared by every step: they belong to none of them.
    leaves = [node for node in graph.nodes if node.kind == "leaf"]
    assert {name for leaf in leaves for name in leaf.variables} == {
        "cell.weight_ih",
        "cell.bias_ih",
        "cell.weight_hh",
        "cell.bias_hh",
    }
    assert all(leaf.module is None for leaf in leaves)
    ungrouped = {node.op for node in graph.nodes if node.module is None and node.kind != "leaf"}
    assert ungrouped == {"PowBackward0", "MeanBackward0"}


def test_collapsed_steps_show_the_gradients_pytorch_computes() -> None:
    """Each step's box shows d(loss)/d(h_t), as retain_grad() gives it in plain PyTorch."""
    graph = run(RNN_CELL)
    torch.manual_seed(DEFAULT_SEED)
    cell = nn.RNNCell(4, 8)
    x = torch.randn(12, 3, 4)
    h = torch.zeros(3, 8)
    steps = []
    for t in range(12):
        h = cell(x[t], h)
        h.retain_grad()
        steps.append(h)
    h.pow(2).mean().backward()  # type: ignore[no-untyped-call]
    viewed = apply_view(graph, GraphView(collapsed=[g.id for g in graph.groups]))
    assert len(viewed.boxes) == 12
    for box in viewed.boxes.values():
        (group,) = box.groups
        assert box.output is not None
        assert box.output.shape == [3, 8]
        expected = steps[group.call].grad
        assert expected is not None
        assert torch.allclose(torch.tensor(box.output.grad), expected, atol=1e-6)
    # Rolled: one box for the twelve steps, its output the last step's.
    rolled = apply_view(graph, default_view(graph))
    (roll,) = rolled.boxes.values()
    assert [g.call for g in roll.groups] == list(range(12))
    assert roll.output is not None
    assert torch.allclose(torch.tensor(roll.output.grad), steps[-1].grad)


def test_modules_torch_runs_inside_built_in_layers_have_their_own_groups() -> None:
    graph = run(TRANSFORMER)
    groups = {(g.module, g.type): g for g in graph.groups}
    names = {g.id: g.module for g in graph.groups}
    for layer in range(2):
        path = f"model.layers.{layer}"
        assert names[groups[(path, "TransformerEncoderLayer")].parent] == "model"  # type: ignore[index]
        for inner, kind in [
            ("self_attn", "MultiheadAttention"),
            ("linear1", "Linear"),
            ("linear2", "Linear"),
            ("norm1", "LayerNorm"),
            ("norm2", "LayerNorm"),
        ]:
            group = groups[(f"{path}.{inner}", kind)]
            assert names[group.parent] == path  # type: ignore[index]
            assert group.nodes
    by_id = {node.id: node for node in graph.nodes}
    # Each layer's parameters are inside the call of the layer that owns them.
    for group in graph.groups:
        for node_id in group.nodes:
            node = by_id[node_id]
            if node.kind == "leaf":
                assert all(name.startswith(group.module + ".") for name in node.variables)


def test_user_classes_lists_and_unnamed_modules_have_paths() -> None:
    code = """import torch
import torch.nn as nn
class Block(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.fc1 = nn.Linear(size, size)
        self.fc2 = nn.Linear(size, size)
    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x))) + x
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block(4)
        self.second = Block(4)
    def forward(self, x):
        return self.second(self.first(x))
net = Net()
heads = [nn.Linear(4, 1)]
x = torch.randn(3, 4)
loss = heads[0](net(x)).sum() + nn.Linear(4, 2)(x).sum()
"""
    graph = run(code)
    found = {(g.module, g.type, g.parent is None) for g in graph.groups}
    assert ("net", "Net", True) in found
    assert ("net.first", "Block", False) in found
    assert ("net.second.fc2", "Linear", False) in found
    assert ("heads[0]", "Linear", True) in found
    assert ("Linear#1", "Linear", True) in found  # bound to no name
    relu = next(node for node in graph.nodes if node.op == "ReluBackward0")
    assert relu.module == "net.first" or relu.module == "net.second"


def test_a_module_whose_forward_fails_leaves_no_open_call() -> None:
    code = """import torch
import torch.nn as nn
class Bad(nn.Module):
    def forward(self, x):
        return x @ torch.ones(5, 5)
bad = Bad()
lin = nn.Linear(3, 3)
x = torch.randn(2, 3, requires_grad=True)
try:
    bad(x)
except RuntimeError:
    pass
y = lin(x).sum()
"""
    graph = run(code)
    assert [(g.module, g.parent) for g in graph.groups] == [("lin", None)]


def test_calls_without_autograd_are_not_groups() -> None:
    code = """import torch
import torch.nn as nn
lin = nn.Linear(3, 3)
x = torch.randn(2, 3)
with torch.no_grad():
    lin(x)
y = lin(x).sum()
"""
    graph = run(code)
    assert [(g.module, g.call) for g in graph.groups] == [("lin", 0)]


def test_small_graphs_are_drawn_whole_and_big_ones_collapsed_readably() -> None:
    small = run(
        "import torch\nimport torch.nn as nn\nfc = nn.Linear(3, 2)\n"
        "loss = fc(torch.randn(4, 3)).sum()"
    )
    assert len(small.nodes) <= WHOLE_NODES
    assert default_view(small) == GraphView()
    transformer = run(TRANSFORMER)
    view = default_view(transformer)
    viewed = apply_view(transformer, view)
    assert len(viewed.shape.nodes) <= 40
    boxed = {box.groups[0].module for box in viewed.boxes.values()}
    assert "model.layers.0.self_attn" in boxed
    assert {g.module for g in viewed.clusters.values()} >= {"model", "model.layers.0"}
    # Every hidden node is told where it is drawn; the drawing names the boxes and clusters.
    hidden = {n.id for n in transformer.nodes} - {n.id for n in viewed.shape.nodes}
    assert hidden == set(viewed.shown_in)
    dot = build_dot(transformer, viewed)
    assert 'id="group-' in dot
    assert "subgraph cluster_g" in dot
    assert "model.layers.0.self_attn (MultiheadAttention)" in dot


def test_rolls_group_calls_of_one_module_in_one_enclosing_call() -> None:
    graph = run(RNN_CELL)
    assert list(rolls(graph.groups)) == [0]
    unrolled = apply_view(graph, GraphView(collapsed=[g.id for g in graph.groups]))
    rolled = apply_view(graph, GraphView(collapsed=[g.id for g in graph.groups], rolled=[0]))
    assert len(unrolled.boxes) == 12
    assert len(rolled.boxes) == 1
    # Only a roll loops onto itself: each unrolled call's inner edges vanish in its box.
    loops = [edge for edge in unrolled.shape.edges if edge.source == edge.target]
    assert loops == []
    assert [edge.source for edge in rolled.shape.edges if edge.source == edge.target] == [
        next(iter(rolled.boxes))
    ]
    # One call expanded: the roll is drawn unrolled, with that call a cluster.
    opened = apply_view(graph, GraphView(collapsed=[g.id for g in graph.groups[1:]], rolled=[0]))
    assert len(opened.boxes) == 11
    assert list(opened.clusters) == [0]


def test_a_view_naming_a_roll_many_times_costs_what_naming_it_once_does() -> None:
    """A view is a request's to choose: 30,000 copies of one roll's id (60 KB) applied on
    the event loop each once per call in the roll would hold it up for a second."""
    graph = run(RNN_CELL.replace("range(12)", "range(140)").replace("12, 3, 4", "140, 3, 4"))
    collapsed = [g.id for g in graph.groups]
    once = GraphView(collapsed=collapsed, rolled=[0])
    started = time.perf_counter()
    repeated = apply_view(graph, GraphView(collapsed=collapsed, rolled=[0] * 30_000 + [7]))
    assert time.perf_counter() - started < 0.2
    assert repeated.boxes.keys() == apply_view(graph, once).boxes.keys()


def test_views_are_drawn_from_the_kept_graph(client: TestClient) -> None:
    response = client.post("/api/graph", json={"code": RNN_CELL})
    answer = response.json()
    # A proxy in front of replicas sends each follow-up to the replica that keeps its state.
    assert response.headers["x-shape-token"] == answer["shape"]
    assert answer["extras"].endswith("/" + response.headers["x-extras-token"])
    assert answer["view"] == {"collapsed": list(range(12)), "rolled": [0]}
    assert len(answer["nodes"]) == 78  # the JSON is complete whatever the view
    assert "\N{MULTIPLICATION SIGN}12" in answer["dot"]
    unrolled = {"collapsed": list(range(12)), "rolled": []}
    response = client.post("/api/graph/view", json={"shape": answer["shape"], "view": unrolled})
    assert response.status_code == 200
    drawing = response.json()
    assert drawing["view"] == unrolled
    assert drawing["svg"].startswith("<svg")
    svg = ElementTree.fromstring(drawing["svg"])
    classes = [g.get("class") for g in svg.iter("{http://www.w3.org/2000/svg}g")]
    assert classes.count("node node-group") == 12
    assert set(drawing["shown_in"].values()) == {f"group-{i}" for i in range(12)}
    again = client.post("/api/graph/view", json={"shape": answer["shape"], "view": unrolled})
    assert again.content == response.content
    # The same program with a view asks for it in the answer itself.
    whole = client.post("/api/graph", json={"code": RNN_CELL, "view": {}}).json()
    assert whole["view"] == {"collapsed": [], "rolled": []}
    assert whole["nodes"] == answer["nodes"]
    assert whole["shown_in"] == {}


def test_a_view_of_an_unknown_graph_is_a_problem(client: TestClient) -> None:
    response = client.post("/api/graph/view", json={"shape": "nope", "view": {}})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    bad = client.post("/api/graph/view", json={"shape": "x", "view": {"collapsed": ["a"]}})
    assert bad.status_code == 422


@pytest.fixture(scope="module")
def transformer() -> GraphData:
    return run(TRANSFORMER)


@given(
    collapsed=st.lists(st.integers(-3, 20), max_size=30),
    rolled=st.lists(st.integers(-3, 20), max_size=5),
)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_view_draws_every_node_once(
    transformer: GraphData, collapsed: list[int], rolled: list[int]
) -> None:
    """Whatever the view (unknown ids, duplicates, nested calls), each node is drawn or
    held by exactly one box, and every edge joins drawn nodes."""
    viewed = apply_view(transformer, GraphView(collapsed=collapsed, rolled=rolled))
    drawn = {node.id for node in viewed.shape.nodes}
    ids = {node.id for node in transformer.nodes}
    assert ids - drawn == set(viewed.shown_in)
    assert all(
        box.element in {f"group-{g.id}" for g in transformer.groups}
        for box in viewed.boxes.values()
    )
    assert sum(box.hidden for box in viewed.boxes.values()) == len(viewed.shown_in)
    assert all(edge.source in drawn and edge.target in drawn for edge in viewed.shape.edges)
    assert build_dot(transformer, viewed).endswith("}\n")


def test_a_sequential_of_the_programs_own_blocks_runs_and_is_grouped() -> None:
    """conv-bn-relu written as a class and stacked in nn.Sequential: Sequential runs the
    program's forward for each block, and each block's layers are groups inside it."""
    code = """import torch
import torch.nn as nn
class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)
    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))
blocks = nn.Sequential(Block(3, 8), Block(8, 8), Block(8, 4))
loss = blocks(torch.randn(2, 3, 8, 8)).mean()
"""
    graph = run(code)
    names = {g.id: g.module for g in graph.groups}
    found = {(g.module, g.type, names.get(g.parent)) for g in graph.groups}  # type: ignore[arg-type]
    assert ("blocks", "Sequential", None) in found
    assert ("blocks.1", "Block", "blocks") in found
    assert ("blocks.2.bn", "BatchNorm2d", "blocks.2") in found
    relu = [node for node in graph.nodes if node.op == "ReluBackward0"]
    assert sorted(node.module or "" for node in relu) == ["blocks.0", "blocks.1", "blocks.2"]
