"""Answers a program can make that the server must survive: huge ones, and text JSON cannot
carry. None is a 5xx, none kills a process, and /healthz never stalls while they run."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from app.contract.replies import WorkerReply
from app.contract.settings import Settings
from app.main import create_app
from app.server.pool import ProcessPool
from app.server.workers import evaluation_role
from app.worker.entry import AnswerAllowance, encode_reply
from tests.security.conftest import assert_problem

# A short program whose answer is about 6 MB: 3,000 nodes of 100 values each (15,000 made
# 146 MB). The app below allows 1 MB, so the test is quick on a busy machine.
AMPLIFIER = (
    "import torch\nx = torch.rand(100, requires_grad=True)\ny = x\n"
    "for i in range(3000):\n    y = y * 1.0001\n"
)
SMALL = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\n"
# Lone surrogates the program makes itself (JSON requests cannot carry one): printed, in an
# assertion's message, and in PyTorch's own error text.
SURROGATES = {
    "printed": "print('\\ud800')\n" + SMALL,
    "assertion": SMALL + "assert False, 'bad \\udfff text'\n",
    "torch error": SMALL + "z = x.view('\\ud800')\n",
    "variable name of a dict key": SMALL + "d = {'\\ud800': 1}\nprint(d)\n",
}


@pytest.fixture(scope="module")
def small_answers() -> Iterator[TestClient]:
    settings = Settings(workers=1, layout_helpers=1, max_answer_bytes=1024 * 1024)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def watched(client: TestClient) -> Iterator[list[float]]:
    yield from _watch(client)


@pytest.fixture
def watched_small(small_answers: TestClient) -> Iterator[list[float]]:
    yield from _watch(small_answers)


def _watch(client: TestClient) -> Iterator[list[float]]:
    """/healthz asked every 50 ms while the test runs: the slowest answers, in seconds."""
    latencies: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    yield latencies
    stop.set()
    watcher.join()


def test_an_answer_over_the_limit_is_a_clear_422_and_the_server_stays_responsive(
    small_answers: TestClient, watched_small: list[float]
) -> None:
    client, watched = small_answers, watched_small
    for turn in range(2):
        response = client.post("/api/graph", json={"code": f"{AMPLIFIER}# {turn}"})
        problem = assert_problem(response)
        assert problem["title"] == "Answer too large"
        assert "MB" in str(problem["detail"])
    assert client.post("/api/graph", json={"code": SMALL + "# after"}).status_code == 200
    assert watched
    assert max(watched) < 1.0


@pytest.mark.parametrize("code", SURROGATES.values(), ids=SURROGATES.keys())
def test_text_json_cannot_carry_is_replaced_not_fatal(
    client: TestClient, watched: list[float], code: str
) -> None:
    response = client.post("/api/graph", json={"code": code})
    assert response.status_code in (200, 422), response.text[:300]
    assert "\ufffd" in response.text or "\\ud800" in response.text or response.status_code == 422
    assert client.post("/api/graph", json={"code": SMALL + f"# {code!r}"}).status_code == 200
    assert max(watched, default=0) < 1.0


def test_every_reply_encodes_and_an_oversized_one_is_an_error() -> None:
    reply = WorkerReply.model_validate(
        {
            "error": {
                "title": "\ud800",
                "detail": "x\udfff",
                "line": None,
                "column": None,
                "slug": "k",
            }
        }
    )
    assert b"\\ufffd" in encode_reply(
        reply, AnswerAllowance(None)
    ) or "\ufffd".encode() in encode_reply(reply, AnswerAllowance(None))
    big = WorkerReply.model_validate(
        {"error": {"title": "t", "detail": "x" * 5000, "line": None, "column": None, "slug": "k"}}
    )
    allowance = AnswerAllowance(1024)
    assert b"Answer too large" in encode_reply(big, allowance)
    assert allowance.exceeded


def test_an_unexpected_failure_is_an_error_reply_with_its_traceback_for_the_log() -> None:
    """A job process's stderr is no place for a traceback (RLIMIT_FSIZE=0 and no writes):
    an exception the evaluation did not expect comes back in the reply, for the server's
    log, and the process answers before it exits."""
    settings = Settings(workers=1)
    processes = ProcessPool(evaluation_role(settings), 1)
    processes.start()
    try:
        processes.wait_ready()
        job = processes.take(60)
        assert job is not None
        assert job.send(b"this is not a job", 30)
        answer = job.receive(30)
        processes.release(job)
    finally:
        processes.stop()
    assert answer is not None
    reply = WorkerReply.model_validate_json(answer)
    assert reply.error is not None
    assert reply.error.slug == "evaluation-failed"
    assert reply.fault is not None
    assert "Traceback" in reply.fault
    assert "ValidationError" in reply.fault


def uses(count: int) -> str:
    """One leaf, `count` uses: an edge each, each with its gradient in the answer."""
    return (
        "import torch\nx = torch.ones(1, requires_grad=True)\n"
        f"y = (torch.cat([x] * {count}) * torch.rand({count})).sum()\n"
    )


def test_answers_of_many_edges_are_parsed_in_turn_and_bounded(
    client: TestClient, watched: list[float]
) -> None:
    """Two answers of about 3.5 MB (30,000 edges) at once: their parses hold the GIL, so they
    are made one at a time, and /healthz waits for one at most; 99,900 edges are refused
    before any answer is made."""
    statuses: list[int] = []

    def post(turn: int) -> None:
        response = client.post("/api/graph", json={"code": uses(30_000) + f"# {turn}"})
        statuses.append(response.status_code)

    posts = [threading.Thread(target=post, args=(turn,)) for turn in range(2)]
    for thread in posts:
        thread.start()
    for thread in posts:
        thread.join()
    assert statuses == [200, 200]
    problem = assert_problem(client.post("/api/graph", json={"code": uses(99_900)}))
    assert "edges" in str(problem["detail"])
    assert max(watched) < 1.0


# A module called 800 times, each call a group a view may collapse: one kept graph has as
# many different views as a client cares to ask for, none of them in any cache.
MANY_GROUPS = """import torch
from torch import nn
class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(1, 1)
    def forward(self, x):
        return torch.tanh(self.l(x)) * 1.0001
cells = nn.ModuleList([Cell() for _ in range(20)])
x = torch.ones(1, 1)
for i in range(40):
    for c in cells:
        x = c(x)
loss = x.sum()
"""
BURST = 24  # within one client's burst allowance (rate_limit_burst)


@pytest.fixture(scope="module")
def quick_layouts() -> Iterator[TestClient]:
    """Graphviz gives up on a large view at once: the views' cost is the server's own."""
    settings = Settings(workers=1, layout_helpers=1, render_timeout_s=0.2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_a_burst_of_views_of_a_large_graph_leaves_the_server_responsive(
    quick_layouts: TestClient,
) -> None:
    """Each view of a graph of thousands of nodes is built and written by the server (its
    DOT, its JSON): in turn with the rest of its heavy work, not all at once in threads
    that leave the event loop a share of the GIL."""
    client = quick_layouts
    answer = client.post("/api/graph", json={"code": MANY_GROUPS, "output": "loss"})
    assert answer.status_code == 200
    body = answer.json()
    groups = [group["id"] for group in body["groups"]]
    assert len(groups) >= 800

    def view(turn: int) -> int:
        asked = {"collapsed": groups[turn::BURST], "rolled": []}
        response = client.post("/api/graph/view", json={"shape": body["shape"], "view": asked})
        status: int = response.status_code
        return status

    watched = _watch(client)
    latencies = next(watched)
    with ThreadPoolExecutor(BURST) as pool:
        statuses = list(pool.map(view, range(BURST)))
    next(watched, None)
    assert statuses == [200] * BURST
    assert max(latencies) < 1.0, f"/healthz took {max(latencies):.2f} s during the views"
