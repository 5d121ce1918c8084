"""Helpers the security tests share: what a refusal must look like."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: Response, status_range: range = range(400, 500)) -> dict[str, object]:
    """A client error in RFC 9457 form, with a detail a learner can read."""
    assert response.status_code in status_range, response.text[:500]
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, object] = response.json()
    assert problem["status"] == response.status_code
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    return problem


@pytest.fixture
def healthy(client: TestClient) -> Iterator[TestClient]:
    """The client, checked to be answering with a full pool before and after the test."""
    assert client.get("/healthz").status_code == 200
    yield client
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
