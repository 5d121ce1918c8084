"""Requests over HTTP: one at a time for latency, many clients at once for throughput."""

import http.client
import itertools
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.programs import Program

_unique = itertools.count()


def uncached(program: Program) -> dict[str, Any]:
    """The request body, made unique by a trailing comment so no cache can answer it."""
    return {"code": f"{program.code}\n# bench request {next(_unique)}", "output": program.output}


class Client:
    """One kept-alive connection through http.client: the client shares the machine's two
    cores with the server, so it is as light as can be (lighter than httpx)."""

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        self.connection = http.client.HTTPConnection(
            address.hostname or "", address.port, timeout=60
        )

    def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            return self._post(body)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a connection left idle past its keep-alive (5 s): reconnect.
            self.connection.close()
            return self._post(body)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        self.connection.request("POST", "/api/graph", body, {"content-type": "application/json"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def timed_post(client: Client, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Seconds to the whole answer, and the answer."""
    raw = json.dumps(body).encode()
    start = time.perf_counter()
    status, answer = client.post(raw)
    elapsed = time.perf_counter() - start
    if status != 200:
        raise RuntimeError(f"status {status}: {answer[:300]!r}")
    parsed: dict[str, Any] = json.loads(answer)
    return elapsed, parsed


@dataclass(frozen=True)
class Throughput:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _client(
    url: str, next_body: Callable[[], dict[str, Any]], stop_at: float, latencies: list[float]
) -> int:
    """One client: a kept-alive connection, one request after another."""
    client = Client(url)
    errors = 0
    while time.perf_counter() < stop_at:
        body = json.dumps(next_body()).encode()
        start = time.perf_counter()
        try:
            status, _ = client.post(body)
            errors += status != 200
        except (OSError, http.client.HTTPException):
            errors += 1
            client.close()  # reconnects on the next request
        latencies.append(time.perf_counter() - start)
    client.close()
    return errors


def throughput(
    url: str, next_body: Callable[[], dict[str, Any]], clients: int, seconds: float
) -> Throughput:
    """`clients` concurrent clients, each sending one request after another for `seconds`.

    Threads with http.client (`Client`): an async httpx client would take a large share of
    the CPU the server needs, on the same two cores, and lower the rate it measures.
    """
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = [pool.submit(_client, url, next_body, stop_at, latencies) for _ in range(clients)]
        errors = sum(run.result() for run in runs)
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100)
    return Throughput(len(latencies), errors, elapsed, 1000 * cuts[49], 1000 * cuts[98])
