"""Every request, seen once from outside the app: its id, its client, its metrics and its
access log line.

The id is the client's (or the proxy's) X-Request-ID when it is a sane token, else a new
one; either way it is echoed in the answer, so that a learner's report, the proxy's log and
this server's log name the same request. The access log is one JSON object a line on
stdout. It names a program by its hash and size only: the text is a user's, and goes into
the log only when `access_log_program` asks for it.

This runs on every request, so it parses no bodies but small problem answers: the route
template comes from the router's match, a program's hash from the route that read it. A
line is one write(2) to stdout rather than a trip through `logging`, whose records, locks and
formatting would cost more than all the rest of this middleware.
"""

import hashlib
import itertools
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import Counter, Histogram
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.contract.settings import Settings
from app.server.metrics import Metrics
from app.server.peers import ClientResolver

REQUEST_ID = b"x-request-id"
# What a proxy or a client may choose as an id: a token, not text to write into a log.
SANE_ID = re.compile(rb"[A-Za-z0-9._:@+=/-]{1,128}")
UNMATCHED = "unmatched"  # a path no route answers: never its text, which anyone can choose
PROBLEM_JSON = b"application/problem+json"
MAX_PROBLEM_BYTES = 8192  # problem answers are small; a larger body is not read for its type
STDOUT = 1
# A made id: this process's random prefix and a count, unique across replicas and restarts
# without a call for randomness on each request.
ID_PREFIX = secrets.token_hex(6)
ID_COUNT = itertools.count(1)


@dataclass
class Exchange:
    """What is known of one request, for its log line: kept in its scope under "agx"."""

    request_id: str
    client: str
    program_hash: str | None = None
    program_size: int | None = None
    program_text: str | None = None


def exchange(request: Request) -> Exchange | None:
    found = request.scope.get("agx")
    return found if isinstance(found, Exchange) else None


def note_program(request: Request, code: str, keep_text: bool) -> None:
    """Name the request's program in its log line by hash and size (and its text if kept)."""
    record = exchange(request)
    if record is not None:
        record.program_hash = hashlib.sha256(code.encode(errors="replace")).hexdigest()[:16]
        record.program_size = len(code)
        record.program_text = code if keep_text else None


class ObserveMiddleware:
    """The outermost layer: ids, client address, metrics and the access log."""

    def __init__(
        self, app: ASGIApp, settings: Settings, metrics: Metrics, routes: list[BaseRoute]
    ) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.resolver = ClientResolver(settings.trusted_proxies)
        self.log = settings.access_log
        # The instruments of each (method, route, status) seen: `labels` looks them up by
        # hashing and locking on every call.
        self.instruments: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        record = Exchange(request_id, self.resolver.client(scope))
        scope["agx"] = record
        echoed = (REQUEST_ID, request_id.encode())
        status = 500
        sent = 0
        problem: list[bytes] | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status, sent, problem
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), echoed]
                message = {**message, "headers": headers}
                if (b"content-type", PROBLEM_JSON) in headers:
                    problem = []
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                sent += len(body)
                if problem is not None and sent <= MAX_PROBLEM_BYTES:
                    problem.append(body)
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            duration = time.perf_counter() - started
            route = _route(scope, self.routes)
            method = scope["method"]
            count, latency = self._instruments(method, route, status)
            count.inc()
            latency.observe(duration)
            slug = _problem_slug(problem) if problem is not None else None
            if slug is not None:
                self.metrics.refusals.labels(slug).inc()
            if self.log:
                _write(record, method, route, status, duration, sent, slug)

    def _instruments(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        key = (method, route, status)
        found = self.instruments.get(key)
        if found is None:
            found = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.latency.labels(method, route),
            )
            self.instruments[key] = found
        return found


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID and SANE_ID.fullmatch(value):
            return str(value.decode("ascii"))
    return f"{ID_PREFIX}-{next(ID_COUNT):x}"


def _route(scope: Scope, routes: list[BaseRoute]) -> str:
    """The route's template (`/api/graph/extras/{token}`), never the path itself."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    # Answered before routing (a refusal by a middleware), or a mount such as /static.
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match != Match.NONE:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


def _problem_slug(parts: list[bytes]) -> str:
    """The `type` of a problem answer without its /problems/ prefix; for a plain HTTP
    error (type about:blank), its status, as `http-404`."""
    try:
        problem = json.loads(b"".join(parts))
        problem_type = str(problem.get("type", "about:blank"))
        return (
            f"http-{int(problem['status'])}"
            if problem_type == "about:blank"
            else problem_type.removeprefix("/problems/")
        )
    except (ValueError, AttributeError, KeyError, TypeError):
        return "unreadable"


def _timestamp() -> str:
    """Now, in UTC to the millisecond (2026-01-31T12:00:00.123Z)."""
    now = time.time()
    second = int(now)
    return f"{_second(second)}.{int((now - second) * 1000):03d}Z"


@lru_cache(maxsize=2)
def _second(second: int) -> str:
    """A second's part of the timestamp: formatted once, not once a request."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _write(
    record: Exchange,
    method: str,
    route: str,
    status: int,
    duration: float,
    sent: int,
    problem: str | None,
) -> None:
    line: dict[str, object] = {
        "time": _timestamp(),
        "request_id": record.request_id,
        "client": record.client,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration * 1000, 2),
        "bytes": sent,
    }
    if problem is not None:
        line["problem"] = problem
    if record.program_hash is not None:
        line["program_sha256"] = record.program_hash
        line["program_chars"] = record.program_size
    if record.program_text is not None:
        line["program"] = record.program_text
    data = (json.dumps(line) + "\n").encode()
    try:
        while data:  # a long line may take more than one write into a pipe
            data = data[os.write(STDOUT, data) :]
    except OSError:
        pass  # a closed or full stdout must not fail the request


def install_observe(
    app: FastAPI, settings: Settings, metrics: Metrics, routers: list[APIRouter]
) -> None:
    """Add the middleware; call last, so that it is outermost and sees every answer.
    `routers` are the app's routers, whose routes name a request answered before routing."""
    routes = [route for router in routers for route in router.routes]
    routes += [route for route in app.router.routes if isinstance(route, Route | Mount)]
    app.add_middleware(ObserveMiddleware, settings=settings, metrics=metrics, routes=routes)
