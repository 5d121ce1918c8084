"""Schemathesis against the app's own OpenAPI schema: no input it derives gives a 5xx.

The schema is the one /openapi.json serves (building it needs no workers); the requests go
through the session's client, so they reach real worker processes.
"""

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.main import app

schema = schemathesis.openapi.from_dict(app.openapi())


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, client: TestClient) -> None:
    response = client.request(**case.as_transport_kwargs(base_url=str(client.base_url)))
    case.validate_response(response, checks=[not_a_server_error])
