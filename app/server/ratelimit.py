"""Per-client rate limits on the API: a token bucket for each client address, and a count
of its programs running.

Each client may make `rate_limit_burst` requests at once, then `rate_limit_per_s` a second;
beyond that it gets 429 with a Retry-After saying when its next request will be accepted.
It may have `rate_limit_running` programs running at once (each may take its job's whole
time limit: a few clients at a modest rate could otherwise hold every worker, and everyone
else would wait or be turned away); another is 429 until one ends.
Only paths under /api/ count: the page's own files are cheap, and a page load fetches many.
Buckets are kept for the `rate_limit_clients` most recent clients; one forgotten is full
again, which is what a client that waited long enough would have.
"""

import math
import time
from collections import OrderedDict

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.contract.schemas import Problem
from app.contract.settings import Settings
from app.server.peers import ClientResolver, host_key, in_networks
from app.server.problems import problem_response

LIMITED_PREFIX = "/api/"
# Requests that may run a program: the answer, the drawing alone, and the fetch of an
# answer's extras (which runs the program again when its process was let go of).
RUNNING = frozenset({("POST", "/api/graph"), ("POST", "/api/graph.svg")})
RUNNING_EXTRAS = "/api/graph/extras/"


class TokenBuckets:
    """Tokens left per key, refilled at `rate` a second up to `burst`."""

    def __init__(self, rate: float, burst: int, keys: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.keys = keys
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """Take a token for `key`: 0 if there was one, else the seconds until there is."""
        now = time.monotonic() if now is None else now
        tokens, stamp = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self.buckets[key] = (tokens, now)  # most recent last
        if len(self.buckets) > self.keys:
            self.buckets.popitem(last=False)
        return wait


class RateLimitMiddleware:
    """429 problem+json, with Retry-After, for a client past its rate on /api/."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.buckets = TokenBuckets(
            settings.rate_limit_per_s, settings.rate_limit_burst, settings.rate_limit_clients
        )
        self.resolver = ClientResolver(settings.trusted_proxies)
        self.exempt = settings.rate_limit_exempt
        self.most_running = settings.rate_limit_running
        # Programs running per client key; a key is dropped when its count is back to 0.
        self.running: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        # The access log's record has the client already; an app without it resolves here.
        record = scope.get("agx")
        client = record.client if record is not None else self.resolver.client(scope)
        if self.exempt and in_networks(client, self.exempt):
            await self.app(scope, receive, send)
            return
        key = host_key(client)
        wait = self.buckets.take(key) if self.buckets.rate > 0 else 0.0
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            response = _too_many(
                f"This address sent more requests than this server accepts "
                f"({self.buckets.rate:g} a second, {self.buckets.burst:g} at once); "
                f"try again in {seconds} s.",
                seconds,
            )
            await response(scope, receive, send)
            return
        if not self.most_running or not _runs_a_program(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.running.get(key, 0) >= self.most_running:
            response = _too_many(
                f"This address has {self.most_running} programs running already, the most "
                "this server runs for one client at once; send this one when an answer comes.",
                1,
            )
            await response(scope, receive, send)
            return
        self.running[key] = self.running.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.running[key] - 1
            if left:
                self.running[key] = left
            else:
                del self.running[key]


def _too_many(detail: str, retry_after_s: int) -> JSONResponse:
    problem = Problem(
        type="/problems/rate-limited", title="Too many requests", status=429, detail=detail
    )
    return problem_response(problem, headers={"Retry-After": str(retry_after_s)})


def _runs_a_program(method: str, path: str) -> bool:
    return (method, path) in RUNNING or (method == "GET" and path.startswith(RUNNING_EXTRAS))


def install_rate_limit(app: FastAPI, settings: Settings) -> None:
    """Add the limits, unless both `rate_limit_per_s` and `rate_limit_running` are 0; call
    before the other middleware, so that refusals pass through the security headers and the
    access log."""
    if settings.rate_limit_per_s > 0 or settings.rate_limit_running > 0:
        app.add_middleware(RateLimitMiddleware, settings=settings)
