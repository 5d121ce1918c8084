"""/healthz says the process lives; /readyz says whether it can take work now, and with
how many workers, so that a load balancer sends work only where it can be done."""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from app.server.pool import JobProcess
from app.server.workers import EvaluationPool


def test_ready_with_warm_workers(ops_client: TestClient) -> None:
    response = ops_client.get("/readyz")
    assert response.status_code == 200
    ready = response.json()
    assert ready["status"] == "ready"
    assert ready["workers"] == 1
    assert ready["idle"] >= 1
    assert ready["layout_idle"] >= 1
    assert {"busy", "waiting"} <= set(ready)


@contextmanager
def without_warm_processes(client: TestClient) -> Iterator[None]:
    """Take every warm evaluation process out of the pool's queue (as if the zygote had
    died and they had all been used), and put them back after."""
    processes = client.app.state.services.pool.processes  # type: ignore[attr-defined]
    with processes.lock:
        taken: list[JobProcess] = list(processes.idle)
        processes.idle.clear()
    try:
        yield
    finally:
        with processes.lock:
            processes.idle.extend(taken)


def test_not_ready_without_a_warm_worker_but_alive(ops_client: TestClient) -> None:
    with without_warm_processes(ops_client):
        response = ops_client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["status"] == "not ready"
        assert response.json()["idle"] == 0
        assert ops_client.get("/healthz").status_code == 200  # alive all the same
    assert ops_client.get("/readyz").status_code == 200


def test_not_ready_while_stopping(ops_client: TestClient) -> None:
    pool: EvaluationPool = ops_client.app.state.services.pool  # type: ignore[attr-defined]
    pool.stopping = True
    try:
        assert ops_client.get("/readyz").status_code == 503
    finally:
        pool.stopping = False
    assert ops_client.get("/readyz").status_code == 200


def test_not_ready_when_the_queue_is_full(ops_client: TestClient) -> None:
    pool: EvaluationPool = ops_client.app.state.services.pool  # type: ignore[attr-defined]
    processes = pool.processes
    with without_warm_processes(ops_client):
        processes.busy += 1  # a job runs, so warm processes will come back
        try:
            assert ops_client.get("/readyz").status_code == 200  # busy is ready: it queues
            processes.waiting += pool.settings.max_waiting
            try:
                assert ops_client.get("/readyz").status_code == 503
            finally:
                processes.waiting -= pool.settings.max_waiting
        finally:
            processes.busy -= 1


def test_readyz_is_not_rate_limited(ops_client: TestClient) -> None:
    """Health checks come often, from the balancer's address."""
    statuses = {ops_client.get("/readyz").status_code for _ in range(20)}
    assert statuses == {200}
