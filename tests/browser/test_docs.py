"""/docs in real Chromium: the vendored Swagger UI under its own CSP, no console error, the
seed's chain rule as the request example, and "Try it out" answered by the app."""

from urllib.parse import urlparse

from playwright.sync_api import Page, Request, expect

from app.server.routes.docs import DOCS_CONTENT_SECURITY_POLICY
from tests.seed_cells import CHAIN_RULE_LESSON


def test_docs_load_their_vendored_assets_under_their_csp(page: Page, live_server: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto(f"{live_server}/docs")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    expect(page.locator("#operations-graph-graph_api_graph_post")).to_be_visible()
    paths = {urlparse(url).path for url in requested if not url.startswith("data:")}
    assert {
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/docs.js",
        "/openapi.json",
    } <= paths
    origin = urlparse(live_server).netloc
    assert {urlparse(url).netloc for url in requested if not url.startswith("data:")} == {origin}
    assert failed == []


def test_try_it_out_draws_the_seed_chain_rule(page: Page, live_server: str) -> None:
    posted: list[Request] = []
    page.on("request", lambda request: posted.append(request) if request.method == "POST" else None)
    page.goto(f"{live_server}/docs")
    operation = page.locator("#operations-graph-graph_api_graph_post")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("PowBackward0")
    assert [request.post_data_json for request in posted] == [{"code": CHAIN_RULE_LESSON}]
