"""The Python client, with the local pipeline and against a real uvicorn server: the same
answers, the same errors, every file it saves."""

import json
import os
import signal
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from app import client
from app.client import Client, GraphError, GraphResult, LocalPipeline, graph
from app.contract.text import format_number
from tests.jupyter_view import variables_rows
from tests.reference import assert_close, run_reference
from tests.seed_cells import CHAIN_RULE_LESSON, CLASSIFIER_AUTOGRAD_LESSON, WHOLE_NOTEBOOK_STDOUT

BACKENDS = ["local", "server"]
# Slow turns of one-element results: neither the step nor the element budget stops it first.
UNTIL_THE_TIME_LIMIT = (
    "import torch\nx = torch.rand(300, 300)\nwhile True:\n    d = torch.linalg.det(x)\n"
)


@pytest.fixture(scope="module")
def local_client() -> Iterator[Client]:
    with Client() as client:
        yield client


@pytest.fixture(params=BACKENDS)
def agx(request: pytest.FixtureRequest) -> Iterator[Client]:
    """A client of each kind; the server's is made per test (cheap: a connection)."""
    if request.param == "local":
        yield request.getfixturevalue("local_client")
        return
    with Client(request.getfixturevalue("live_server")) as remote:
        yield remote


def test_chain_rule_matches_pytorch(agx: Client) -> None:
    result = agx.graph(CHAIN_RULE_LESSON)
    reference = run_reference(CHAIN_RULE_LESSON)
    assert result.root_name == "z"
    for name in ("x", "y", "z"):
        assert_close(result.variables[name].value, reference.names[name], f"{name} value")
    assert_close(result.variables["x"].grad, reference.grads["x"], "x.grad")
    assert result.variables["y"].grad is None  # a non-leaf's .grad, as PyTorch leaves it
    assert result.json["pending"] == []  # the client asks for the gradient check too
    assert result.json["gradcheck"]["x"]["ok"] is True
    assert result.dot.startswith("digraph")
    assert result.svg is not None
    ElementTree.fromstring(result.svg)


def test_the_whole_answer_is_the_apis(agx: Client) -> None:
    """`json` is POST /api/graph's answer; the typed fields read from it."""
    result = agx.graph(CLASSIFIER_AUTOGRAD_LESSON)
    assert set(result.json) >= {"nodes", "edges", "variables", "svg", "dot", "stdout"}
    assert result.stdout == WHOLE_NOTEBOOK_STDOUT.split("\n", 2)[2]
    assert result.json["variables"]["w"]["grad"] == result.variables["w"].grad


def test_output_picks_the_root(agx: Client) -> None:
    result = agx.graph(CHAIN_RULE_LESSON, output="y")
    assert result.root_name == "y"
    ops = {node["id"]: node["op"] for node in result.json["nodes"]}
    assert ops[result.json["root"]] == "PowBackward0"


def test_local_and_server_answers_agree(local_client: Client, live_server: str) -> None:
    with Client(live_server) as remote:
        here, there = local_client.graph(CHAIN_RULE_LESSON), remote.graph(CHAIN_RULE_LESSON)
    # Each server names the graphs it keeps with a key of its own (app.server.cache).
    assert here.json.pop("shape") != there.json.pop("shape")
    assert here.json == there.json


@pytest.mark.parametrize(
    ("code", "title", "line", "column"),
    [
        ("import torch\nx = torch.ones(2,\n", "Syntax error", 2, 15),
        ("import torch\nimport os\n", "Not allowed", 2, 8),
        ("import torch\nx = torch.ones(2)\ny = x @ torch.ones(3)\n", None, 3, 5),
    ],
)
def test_refused_program_raises_its_problem(
    agx: Client, code: str, title: str | None, line: int, column: int
) -> None:
    with pytest.raises(GraphError) as caught:
        agx.graph(code)
    error = caught.value
    if title is not None:
        assert error.title == title
    assert (error.line, error.column) == (line, column)
    assert error.status == 422
    assert error.type.startswith("/problems/")
    assert error.detail
    assert str(error).startswith(f"{line}:{column}: {error.title}: ")


def test_an_invalid_request_is_a_problem_too(agx: Client) -> None:
    with pytest.raises(GraphError) as caught:
        agx.graph(CHAIN_RULE_LESSON, output="x" * 101)
    assert caught.value.title == "Invalid request"
    assert caught.value.status == 422
    assert "output" in caught.value.detail


def test_an_unknown_output_names_the_variable(agx: Client) -> None:
    with pytest.raises(GraphError) as caught:
        agx.graph(CHAIN_RULE_LESSON, output="nope")
    assert "nope" in caught.value.detail


def test_a_server_that_does_not_answer() -> None:
    with Client("http://127.0.0.1:9", timeout_s=5) as client, pytest.raises(GraphError) as caught:
        client.graph(CHAIN_RULE_LESSON)
    assert caught.value.title == "Server unreachable"
    assert caught.value.status is None
    assert caught.value.line is None


@pytest.fixture(scope="module")
def chain_rule(local_client: Client) -> GraphResult:
    return local_client.graph(CHAIN_RULE_LESSON)


def test_save_svg(chain_rule: GraphResult, tmp_path: Path) -> None:
    path = chain_rule.save(tmp_path / "graph.svg")
    assert path.read_text() == chain_rule.svg
    ElementTree.parse(path)


def test_save_dot_and_json(chain_rule: GraphResult, tmp_path: Path) -> None:
    assert chain_rule.save(tmp_path / "graph.dot").read_text() == chain_rule.dot
    assert json.loads(chain_rule.save(tmp_path / "graph.JSON").read_text()) == chain_rule.json


def test_save_png(chain_rule: GraphResult, tmp_path: Path) -> None:
    data = chain_rule.save(tmp_path / "graph.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert width > 200
    assert height > 300  # three nodes, one above the other


def test_save_refuses_other_suffixes(chain_rule: GraphResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.dot, \.json"):
        chain_rule.save(tmp_path / "graph.pdf")
    assert not (tmp_path / "graph.pdf").exists()


def test_without_a_drawing_svg_and_png_say_why(chain_rule: GraphResult, tmp_path: Path) -> None:
    """When Graphviz ran out of time the answer has no SVG; the DOT and JSON still save."""
    answer = {**chain_rule.json, "svg": None}
    undrawn = GraphResult(json.dumps(answer).encode())
    with pytest.raises(GraphError, match="Drawing failed"):
        undrawn.save(tmp_path / "graph.svg")
    assert undrawn.save(tmp_path / "graph.json").exists()
    assert "No drawing" in undrawn._repr_html_()


def test_jupyter_view_has_the_drawing_and_the_variables(chain_rule: GraphResult) -> None:
    html = chain_rule._repr_html_()
    assert "<script" not in html
    assert chain_rule.svg is not None
    assert chain_rule.svg in html
    rows = variables_rows(html)
    assert list(rows) == ["x", "y", "z"]
    # The numbers as plain PyTorch computes them, in the drawing's format.
    reference = run_reference(CHAIN_RULE_LESSON)
    x_grad = reference.grads["x"]
    assert x_grad is not None
    assert rows["x"][:2] == ["3", format_number(x_grad.item())]
    assert rows["z"][0] == format_number(reference.names["z"].item())
    assert rows["x"][2:] == ["[]", "float32", "leaf, requires_grad"]
    assert rows["z"][4] == "SinBackward0"


def test_jupyter_view_escapes_the_programs_text(local_client: Client) -> None:
    result = local_client.graph(
        'import torch\nx = torch.ones(1, requires_grad=True)\nprint("<b>hi</b>")\n'
        "y = (x * 2).sum()\n"
    )
    html = result._repr_html_()
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "<b>hi</b>" not in html


def test_graph_keeps_one_client_per_server(live_server: str) -> None:
    first = graph(CHAIN_RULE_LESSON, server=live_server)
    shared = client._shared[live_server]
    second = graph(CHAIN_RULE_LESSON, output="y", server=live_server)
    assert (first.root_name, second.root_name) == ("z", "y")
    assert client._shared[live_server] is shared


def test_an_interrupt_ends_the_wait_and_the_job(local_client: Client) -> None:
    """Jupyter's interrupt (SIGINT to the kernel) returns at once; the job is cancelled and
    its process and slot are let go of by its time limit at the latest."""
    backend = local_client.backend
    assert isinstance(backend, LocalPipeline)
    processes = backend.services.pool.processes
    busy = processes.busy
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            local_client.graph(UNTIL_THE_TIME_LIMIT)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2
    deadline = started + backend.services.settings.job_timeout_s + 2
    while processes.busy > busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes.busy == busy
    assert local_client.graph(CHAIN_RULE_LESSON).root_name == "z"


@pytest.mark.parametrize("server", ["localhost:8000", "ftp://example.org", "http://", "127.0.0.1"])
def test_a_server_is_an_http_url(server: str) -> None:
    with pytest.raises(ValueError, match="is not a server's address"):
        Client(server)
