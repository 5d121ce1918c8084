"""HTTP hardening: a body-size cap enforced while streaming, and security headers."""

import asyncio

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.contract.schemas import Problem
from app.contract.settings import Settings
from app.server.problems import problem_response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class BodyTooLargeError(Exception):
    """The request body passed the limit while it was being read."""


class BodyTimeoutError(Exception):
    """The rest of the request body did not arrive in time."""


class BodyLimitMiddleware:
    """Refuse bodies over `limit` bytes with 413, counting chunked bodies as they arrive, and
    bodies whose next part takes longer than `timeout_s` with 408: a client that stalls
    half way must not hold the connection and its request for ever."""

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await problem_response(self._problem(timed_out=False))(scope, receive, send)
            return
        received = 0
        exceeded = False
        answered = False
        body_done = False
        timed_out = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded, body_done, timed_out
            if body_done:
                return await receive()  # after the body: waits for the disconnect
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise BodyTimeoutError from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def reject_once() -> None:
            nonlocal answered
            if not answered:
                answered = True
                # A stalled body may still arrive later: that connection is closed.
                closing = {"Connection": "close"} if timed_out else None
                response = problem_response(self._problem(timed_out), headers=closing)
                await response(scope, receive, send)

        async def guarded_send(message: Message) -> None:
            # FastAPI turns any error while reading the body into its own 400; once the limit
            # was passed, whatever the app answers is replaced by the 413.
            nonlocal answered
            if exceeded or timed_out:
                await reject_once()
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except (BodyTooLargeError, BodyTimeoutError):
            await reject_once()

    def _problem(self, timed_out: bool) -> Problem:
        """Why the body was refused: it stalled (408), or it passed the limit (413)."""
        if timed_out:
            return Problem(
                type="/problems/body-timeout",
                title="Request body too slow",
                status=408,
                detail=f"The rest of the request body did not arrive within {self.timeout_s:g} s.",
            )
        return Problem(
            type="/problems/too-large",
            title="Request too large",
            status=413,
            detail=f"The request body is larger than {self.limit} bytes.",
        )


class SecurityHeadersMiddleware:
    """Add the security headers to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        BodyLimitMiddleware, limit=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    app.add_middleware(SecurityHeadersMiddleware)
