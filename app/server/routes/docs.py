"""GET /docs: the API's interactive documentation (Swagger UI, vendored in
static/vendor/swagger-ui/), under a CSP of its own that allows only what it needs."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.server.routes.pages import templates

router = APIRouter(include_in_schema=False)

# Scripts and styles from the app only (the vendored bundle and static/docs.js), the OpenAPI
# description and "Try it out" requests to the app only; images from the app, Swagger UI's
# data: icons and the blob: of a drawing it previews. Nothing may frame it.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "docs.html",
        headers={"content-security-policy": DOCS_CONTENT_SECURITY_POLICY},
    )
