"""An answer's drawing is laid out by the job process that evaluated its program; a layout
that runs out of time there is killed with its process, the next engine is tried in a layout
process, and the gradient check still comes (by running the program again)."""

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.contract.settings import Settings
from app.main import create_app
from app.server.services import Services
from tests.seed_cells import CHAIN_RULE_LESSON


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def test_an_answer_is_laid_out_by_its_job_process(client: TestClient) -> None:
    layouts = _services(client).layout.processes
    before = dict(layouts.restarts)
    code = f"{CHAIN_RULE_LESSON}\n# {uuid.uuid4()}"  # never drawn before: no kept drawing
    answer = client.post("/api/graph", json={"code": code}).json()
    assert answer["svg"].startswith("<svg")
    assert "Liberation Sans" in answer["svg"]  # as a layout process writes it
    assert dict(layouts.restarts) == before  # no layout process was used
    # Nor is its drawing kept for other requests with the same DOT: a job process that a
    # program took over could answer a common graph's DOT with an SVG of its choosing.
    drawings = _services(client).layout.drawings
    assert drawings.max_entries > 0
    key = hashlib.sha256(answer["dot"].encode()).hexdigest()
    assert drawings.get(key, count=False) is None
    # The same view drawn again comes from a layout process, and is kept.
    view = {"shape": answer["shape"], "view": answer["view"]}
    assert client.post("/api/graph/view", json=view).json()["dot"] == answer["dot"]
    assert drawings.get(key, count=False) is not None


def test_the_evaluation_zygote_loads_graphviz_without_pango(client: TestClient) -> None:
    zygote = _services(client).pool.processes.zygote
    assert zygote is not None
    maps = Path(f"/proc/{zygote.pid}/maps").read_text()
    assert "libgvplugin_core" in maps
    assert "pango" not in maps


# A graph of about a hundred nodes, laid out in the job process (up to 150 nodes are) in
# milliseconds: far longer than the event loop's timers can be late, so that a tenth of a
# millisecond is out of time however fast the machine.
LONG_CHAIN = """import torch
x = torch.tensor(0.5, requires_grad=True)
y = x
for _ in range(40):
    y = torch.sin(y) * 1.01
y.backward()
"""


@pytest.fixture(scope="module")
def hurried() -> Iterator[TestClient]:
    """An app whose drawings must be made in a tenth of a millisecond: none can be."""
    settings = Settings(workers=1, render_timeout_s=1e-4, cache_entries=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_a_layout_out_of_time_ends_its_job_process_and_the_check_still_comes(
    hurried: TestClient,
) -> None:
    response = hurried.post("/api/graph", json={"code": LONG_CHAIN})
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert answer["svg"] is None
    assert any("needed more than" in warning for warning in answer["warnings"])
    assert answer["nodes"]  # the graph and its gradients are all there
    pool = _services(hurried).pool
    assert not pool.waiting_answered  # its process was killed with the layout
    extras = hurried.get(answer["extras"])
    assert extras.status_code == 200
    assert extras.json()["gradcheck"]["x"]["ok"] is True  # made by running it again
    # The pool goes on: the next request is answered in a process of its own.
    assert hurried.post("/api/graph", json={"code": LONG_CHAIN}).status_code == 200


def test_a_request_that_includes_the_check_gets_it_when_its_layout_ran_out_of_time(
    hurried: TestClient,
) -> None:
    body = {"code": LONG_CHAIN, "include": ["gradcheck"]}
    response = hurried.post("/api/graph", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["pending"] == []
    assert answer["gradcheck"]["x"]["ok"] is True
