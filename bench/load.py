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

import httpx

from bench.programs import Program

_unique = itertools.count()


def uncached(program: Program) -> dict[str, Any]:
    """The request body, made unique by a trailing comment so no cache can answer it."""
    return {"code": f"{program.code}\n# bench request {next(_unique)}", "output": program.output}


def timed_post(client: httpx.Client, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = client.post("/api/graph", json=body)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return elapsed, answer


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
    """One client: a kept-alive connection, one request after another (http.client, see
    `throughput`)."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    errors = 0
    while time.perf_counter() < stop_at:
        body = json.dumps(next_body()).encode()
        start = time.perf_counter()
        try:
            connection.request("POST", "/api/graph", body, {"content-type": "application/json"})
            response = connection.getresponse()
            response.read()
            errors += response.status != 200
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()  # reconnects on the next request
        latencies.append(time.perf_counter() - start)
    connection.close()
    return errors


def throughput(
    url: str, next_body: Callable[[], dict[str, Any]], clients: int, seconds: float
) -> Throughput:
    """`clients` concurrent clients, each sending one request after another for `seconds`.

    The load generator shares the machine's two cores with the server, so it is as light as
    can be: threads with http.client cost about 0.5 ms of CPU per request where httpx's
    async client cost 7.7 ms, a quarter of all the CPU a request used.
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
