"""`python -m bench.middleware`: what the operations layer (request id, access log line,
metrics, rate limit) costs on every request, apart from the request itself.

The layers wrap an app that answers at once, so that only their own work is timed; each
figure is the least of several runs of many requests (the least is the one the machine
disturbed least). The access log is written to a file, as a server's stdout usually is.
"""

import asyncio
import os
import tempfile
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.contract.settings import Settings
from app.server.metrics import Metrics
from app.server.observe import STDOUT, ObserveMiddleware
from app.server.ratelimit import RateLimitMiddleware
from bench.report import table

REQUESTS = 5_000
RUNS = 7
SCOPE: Scope = {
    "type": "http",
    "method": "POST",
    "path": "/api/graph",
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"120")],
    "client": ("203.0.113.7", 50_000),
}


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    pass


def layers(access_log: bool, rate_limit: bool) -> ASGIApp:
    # Every request is counted by the limit, none refused: its whole work, on every request.
    settings = Settings(
        access_log=access_log, rate_limit_per_s=1e9, rate_limit_burst=100_000, rate_limit_exempt=[]
    )
    inner: ASGIApp = RateLimitMiddleware(answer, settings) if rate_limit else answer
    return ObserveMiddleware(inner, settings, Metrics(), routes=[])


async def microseconds(app: ASGIApp) -> float:
    """The least, over RUNS, of the mean time of one request."""
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            await app(dict(SCOPE), receive, send)
        best = min(best, (time.perf_counter() - started) / REQUESTS)
    return best * 1e6


async def measure() -> list[list[str]]:
    variants = {
        "no layers": answer,
        "ids and metrics": layers(access_log=False, rate_limit=False),
        "+ access log": layers(access_log=True, rate_limit=False),
        "+ rate limit": layers(access_log=True, rate_limit=True),
    }
    bare = await microseconds(answer)
    rows = []
    for name, app in variants.items():
        spent = await microseconds(app)
        rows.append([name, f"{spent:.1f}", f"{spent - bare:.1f}"])
    return rows


def main() -> None:
    with tempfile.TemporaryFile() as log:
        saved = os.dup(STDOUT)
        os.dup2(log.fileno(), STDOUT)
        try:
            rows = asyncio.run(measure())
        finally:
            os.dup2(saved, STDOUT)
            os.close(saved)
    print(table(["layers", "us per request", "us added"], rows))


if __name__ == "__main__":
    main()
