"""A worker that did its share of jobs is replaced without failing or stalling requests."""

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_requests_go_on_while_a_worker_is_replaced() -> None:
    settings = Settings(workers=1, worker_max_jobs=1, layout_helpers=1)
    with TestClient(create_app(settings)) as client:
        pool = client.app.state.pool  # type: ignore[attr-defined]
        first = pool.workers[0].process.pid
        for value in (2.0, 3.0):
            code = f"import torch\nx = torch.tensor({value}, requires_grad=True)\ny = x * x"
            response = client.post("/api/graph", json={"code": code})
            assert response.status_code == 200
            assert response.json()["variables"]["x"]["grad"] == 2 * value
        assert first not in {worker.process.pid for worker in pool.workers}
