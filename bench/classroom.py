"""A classroom at once: learners each pressing Run on a program of their own every few seconds.

Unlike `bench.load.throughput`, whose clients send as fast as answers come, a learner presses
Run on a clock, whether or not the server is slow: the load does not ease when the server
struggles, as it does not in a real class. Each learner is a thread that wakes at its own
phase, sends its next program on a new connection (a page left idle past the server's
keep-alive reconnects too), reads the whole answer and sleeps to its next press. A press
that comes while the previous answer is still awaited is sent as soon as it arrives, and its
latency counts from when it was due, so a slow server is not hidden by a slow client.

The programs are made before the clock starts (the client shares the machine's two cores
with the server): half are the page's examples with their numbers changed, half are members
of the tutorial families (`bench.tutorials`), each with a unique trailing comment so that no
cache answers any.
"""

import http.client
import json
import random
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.load import uncached
from bench.tutorials import classroom_program

LEARNERS = 200
PERIOD_S = 5.0
SECONDS = 60.0


@dataclass(frozen=True)
class ClassroomRun:
    learners: int
    requests: int
    answered: int  # 200: a drawn graph
    refused: int  # 422: the learner's program failed, explained (a varied example can)
    errors: int  # anything else: 5xx, 503, a dropped connection, a timeout
    turned_away: int  # of the errors, 503: every slot and waiting place was taken
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def classroom(
    url: str, learners: int = LEARNERS, period_s: float = PERIOD_S, seconds: float = SECONDS
) -> ClassroomRun:
    rng = random.Random(2024)
    presses = int(seconds / period_s)
    bodies = [[json.dumps(_body(rng)).encode() for _ in range(presses)] for _ in range(learners)]
    start = time.perf_counter() + 1.0  # every thread started before the first press
    outcomes: list[tuple[int, float]] = []
    lock = threading.Lock()

    def learner(index: int) -> None:
        phase = period_s * index / learners  # presses spread evenly over the period
        for turn, body in enumerate(bodies[index]):
            due = start + phase + turn * period_s
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status = _post(url, body)
            with lock:
                outcomes.append((status, time.perf_counter() - due))

    threads = [threading.Thread(target=learner, args=(i,), daemon=True) for i in range(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    latencies = [latency for _, latency in outcomes]
    cuts = statistics.quantiles(latencies, n=100)
    statuses = [status for status, _ in outcomes]
    answered, refused = statuses.count(200), statuses.count(422)
    return ClassroomRun(
        learners,
        len(outcomes),
        answered,
        refused,
        len(outcomes) - answered - refused,
        statuses.count(503),
        elapsed,
        1000 * cuts[49],
        1000 * cuts[98],
        1000 * max(latencies),
    )


def _body(rng: random.Random) -> dict[str, object]:
    program = classroom_program(rng)
    body = uncached(program)
    if not program.output:
        body["output"] = None  # the example's own last expression, as the page sends it
    return body


def _post(url: str, body: bytes) -> int:
    """The answer's status, once it has been read whole; 0 for a failed connection."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("POST", "/api/graph", body, {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()
