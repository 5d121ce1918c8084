"""Isolation between requests: a runaway does not hold up others, state does not carry over,
and a crowd gets 503 with Retry-After instead of an endless queue."""

import dataclasses
import re
import select
import signal
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.contract.schemas import GraphRequest, GraphShape
from app.contract.settings import Limits, Settings
from app.server.layout import LayOut
from app.server.workers import EvaluationPool, SaturatedError
from app.worker.evaluate import _joined, evaluate
from tests.loops import on_a_loop
from tests.security.conftest import assert_problem

NORMAL = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\ny.backward()"
BUSY_LOOP = "while True:\n    pass"
# Each turn is real work, so only the wall-clock limit stops it, not the step budget.
WALL_CLOCK_RUNAWAY = "import torch\nx = torch.ones(400, 400)\nwhile True:\n    x = x @ x / 400"
PROBE = (
    "import torch\nr = torch.rand(2)\nx = torch.ones(1, requires_grad=True)\ny = x * 2\n"
    "d = torch.zeros(1)\nprint(torch.is_grad_enabled(), d.dtype, r)"
)
POLLUTERS = (
    "import torch\ntorch.manual_seed(123)\ntorch.set_grad_enabled(False)",
    "import torch\ntorch.manual_seed(7)\nx = torch.rand(1000)\ntorch.set_grad_enabled(False)",
)


def timed_post(client: TestClient, code: str) -> tuple[Response, float]:
    started = time.monotonic()
    response = client.post("/api/graph", json={"code": code})
    return response, time.monotonic() - started


@pytest.fixture
def pool_of_two(client: TestClient, settings: Settings) -> Iterator[TestClient]:
    """These tests reason about two jobs at once; wait for at least two warm processes
    afterwards."""
    assert settings.workers == 2
    yield client
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.app.state.services.pool.processes.state()["idle"] >= 2:  # type: ignore[attr-defined]
            return
        time.sleep(0.2)


@pytest.mark.parametrize("runaway", [BUSY_LOOP, WALL_CLOCK_RUNAWAY], ids=["steps", "wall_clock"])
def test_normal_request_beside_a_runaway_is_answered_quickly(
    pool_of_two: TestClient, runaway: str, settings: Settings
) -> None:
    client = pool_of_two
    with ThreadPoolExecutor(1) as executor:
        running = executor.submit(timed_post, client, runaway)
        time.sleep(0.3)  # let the runaway take a worker
        response, elapsed = timed_post(client, NORMAL)
        assert response.status_code == 200
        assert elapsed < 1.0
        refused, runaway_time = running.result()
    problem = assert_problem(refused)
    assert problem["title"] == "Limit reached"
    assert runaway_time < settings.job_timeout_s + 2
    # The runaway's worker is being replaced; the other one answers meanwhile, every time.
    for _ in range(3):
        response, elapsed = timed_post(client, NORMAL)
        assert response.status_code == 200
        assert elapsed < 1.0


def test_endless_loop_ends_on_the_step_budget_well_before_the_time_limit(
    pool_of_two: TestClient, settings: Settings
) -> None:
    response, elapsed = timed_post(pool_of_two, BUSY_LOOP)
    assert "steps" in str(assert_problem(response)["detail"])
    assert elapsed < settings.job_timeout_s / 2


def test_changed_seed_and_grad_mode_do_not_reach_the_next_request(pool_of_two: TestClient) -> None:
    client = pool_of_two
    baseline = client.post("/api/graph", json={"code": PROBE}).json()
    assert baseline["stdout"].startswith("True torch.float32")
    assert baseline["variables"]["y"]["grad_fn"] == "MulBackward0"
    for index, polluter in enumerate(POLLUTERS):
        # Two of each, so that both workers (taken in turn) run the polluter and then a probe;
        # each text differs, so the answer cache never stands in for a worker.
        for turn in range(2):
            code = f"{polluter}\n# {index} {turn}"
            assert client.post("/api/graph", json={"code": code}).status_code == 200
        for turn in range(2):
            code = f"{PROBE}\n# after {index} {turn}"
            answer = client.post("/api/graph", json={"code": code}).json()
            assert answer["stdout"] == baseline["stdout"]
            assert answer["variables"]["y"] == baseline["variables"]["y"]


def test_a_process_that_died_while_idle_is_replaced_not_blamed(pool_of_two: TestClient) -> None:
    pool = pool_of_two.app.state.services.pool  # type: ignore[attr-defined]
    victim = pool.processes.idle[0]  # the next process a request would get
    signal.pidfd_send_signal(victim.pidfd, signal.SIGKILL)
    select.select([victim.pidfd], [], [], 5)  # readable once it has died
    for turn in range(3):  # each program differs, so the answer cache cannot answer for a worker
        code = f"{NORMAL}\n# turn {turn}"
        assert pool_of_two.post("/api/graph", json={"code": code}).status_code == 200
    assert victim not in pool.processes.idle


def test_largest_allowed_program_fits_in_the_worker_memory_limit(pool_of_two: TestClient) -> None:
    code = (
        "import torch\n"
        "xs = [torch.rand(4_000_000, dtype=torch.float64) for i in range(8)]\n"
        "y = torch.rand(1000, 1000, dtype=torch.float64, requires_grad=True)\n"
        "z = (y @ y).sum()\nz.backward()"
    )
    response = pool_of_two.post("/api/graph", json={"code": code})
    assert response.status_code == 200, response.text[:300]


def test_a_crowd_gets_503_with_retry_after(client: TestClient) -> None:
    state = client.app.state  # type: ignore[attr-defined]
    real = state.services
    # no workers: every request would wait
    state.services = dataclasses.replace(real, pool=EvaluationPool(Settings(max_waiting=0)))
    try:
        response = client.post("/api/graph", json={"code": f"{NORMAL}\n# not cached"})
    finally:
        state.services = real
    assert_problem(response, range(503, 504))
    assert response.headers["retry-after"].isdigit()


async def _ignore(shape: GraphShape, lay_out: LayOut) -> None:
    """No drawing: these tests look at the job processes only."""


def test_waiting_for_a_worker_is_bounded() -> None:
    pool = EvaluationPool(Settings(max_waiting=5, max_wait_s=0.2))
    started = time.monotonic()
    # In a thread of its own: other tests (the browser's) may keep an event loop running here.
    with pytest.raises(SaturatedError):
        on_a_loop(pool.run(GraphRequest(code=NORMAL), _ignore))
    assert time.monotonic() - started < 2
    assert pool.processes.waiting == 0


def test_printed_objects_do_not_say_where_they_are_in_memory() -> None:
    """Objects without a text of their own print their address: the same in every job that
    one zygote forks, which tells a native exploit the memory layout they all share. The
    program's own text is its own."""
    code = (
        "import torch\n"
        "g = torch.Generator()\n"
        "print(g)\n"
        "print(repr(torch.no_grad()), str(g), f'{g!r} {g}', [g])\n"
        "print('at 0x7f1a220c36f0 is mine')\n"
    )
    stdout = evaluate(GraphRequest(code=code), Limits()).stdout
    assert "<torch._C.Generator object>" in stdout
    assert re.findall(r"0x[0-9a-f]+", stdout) == ["0x7f1a220c36f0"]


def test_errors_do_not_say_where_objects_are_in_memory(client: TestClient) -> None:
    """Python writes a key it did not find as the key's text, address and all: the error
    leaves the job without it, as a printed object does."""
    code = "import torch\ng = torch.Generator()\nfound = {}[g]\n"
    response = client.post("/api/graph", json={"code": code})
    problem = assert_problem(response, range(422, 423))
    assert "<torch._C.Generator object>" in str(problem["detail"])
    assert "0x" not in response.text


def test_warnings_do_not_say_where_objects_are_in_memory() -> None:
    caught = warnings.WarningMessage(
        UserWarning("hook <function f at 0x7f3a1c2b9d80> on storage 0x55d0c0ffee00"),
        UserWarning,
        "program.py",
        1,
    )
    assert _joined([caught], ["made from 0x10 and 0xff"]) == [
        "hook <function f> on storage 0x…",
        "made from 0x10 and 0xff",
    ]


def test_caught_errors_do_not_say_where_objects_are_in_memory() -> None:
    """A caught error's `args` are strings the program can read and parse: written without
    the address Python puts in an object's text, as its message is."""
    code = (
        "import torch\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "y = (x * 2).sum()\n"
        "for key in (y.grad_fn, torch.Generator()):\n"
        "    try:\n"
        "        {}[key]\n"
        "    except KeyError as e:\n"
        "        print(e.args[0])\n"
        "    try:\n"
        "        [1].index(key)\n"
        "    except ValueError as e:\n"
        "        print(e.args[0])\n"
    )
    stdout = evaluate(GraphRequest(code=code), Limits()).stdout
    assert stdout.splitlines() == [
        "<SumBackward0 object>",
        "<SumBackward0 object> is not in list",
        "<torch._C.Generator object>",
        "<torch._C.Generator object> is not in list",
    ]
