"""Two replicas behind HAProxy (deploy/haproxy.cfg, Debian's package), on loopback: a mixed
load goes through the proxy, one replica is killed half way, and every request is answered.

The proxy sends a request again where the replica died with it or refused the connection
(every request is safe to repeat); the client, like the page, retries a 503 after its
Retry-After.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.security.live_server import ROOT, Live, free_port, live_server, wait_healthy

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CONFIG = ROOT / "deploy" / "haproxy.cfg"
CLIENTS = 4
SECONDS_BEFORE_KILL = 8.0
SECONDS_AFTER_KILL = 8.0
PAGE_RETRIES = 5
# The replicas trust the proxy's X-Forwarded-For, as deployed.
REPLICA_ENV = {"AGX_TRUSTED_PROXIES": '["127.0.0.1/32"]', "AGX_WORKERS": "1"}

if not Path(HAPROXY).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("haproxy is missing; `make test` installs it")
    pytest.skip("install Debian's haproxy; `make test` does", allow_module_level=True)


@dataclass
class Outcome:
    """What each kind of request got, and what was not an answer."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    request_ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[kind, response.status_code] += 1
            self.request_ids.add(response.headers.get("x-request-id", ""))

    def fail(self, kind: str, error: str) -> None:
        with self.lock:
            self.failures.append(f"{kind}: {error}")

    def lose(self, kind: str, error: str) -> None:
        """A request in flight on the replica when it was killed: its answer may have begun."""
        with self.lock:
            self.cut.append(f"{kind}: {error}")


@contextmanager
def haproxy(servers: list[Live]) -> Iterator[str]:
    """deploy/haproxy.cfg in front of `servers`, ready once a request goes through it."""
    port = free_port()
    env = {
        **os.environ,
        "AGX_PROXY_BIND": f"127.0.0.1:{port}",
        "AGX_SERVER_1": servers[0].url.removeprefix("http://"),
        "AGX_SERVER_2": servers[1].url.removeprefix("http://"),
    }
    check = subprocess.run(
        [HAPROXY, "-c", "-q", "-f", str(CONFIG)], env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "haproxy.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(CONFIG)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        proxy = Live(f"http://127.0.0.1:{port}", process, log)
        try:
            wait_healthy(proxy, timeout=30)
            yield proxy.url
        finally:
            process.terminate()
            process.wait(10)
            print(proxy.output()[-20_000:])  # its log, shown when the test fails


def page_like(client: httpx.Client, method: str, path: str, **options: object) -> httpx.Response:
    """A request as the page makes it: a 503 is tried again after its Retry-After. As a
    browser does (Chromium resends on a reused connection that closes before any byte of an
    answer), a request whose connection closed without an answer is sent once more; httpx
    would not. The proxy may close a kept-alive connection whose replica it lost."""
    resent = False
    for _ in range(PAGE_RETRIES):
        try:
            response = client.request(method, path, **options)  # type: ignore[arg-type]
        except httpx.RemoteProtocolError as error:
            if resent or "without sending a response" not in str(error):
                raise
            resent = True
            response = client.request(method, path, **options)  # type: ignore[arg-type]
        if response.status_code != 503 or "retry-after" not in response.headers:
            return response
        time.sleep(float(response.headers["retry-after"]))
    return response


REPEATED = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum()\n"


def mixed_requests(number: int, turn: int) -> list[tuple[str, str, str, dict[str, object]]]:
    """One turn of a client: a new program and a repeated one (from the cache), a refused
    program, the page and its script, readiness, and now and then the SVG download."""
    new = f"import torch\nx = torch.ones(3, requires_grad=True)\ny = (x * {number}.{turn}).sum()\n"
    requests: list[tuple[str, str, str, dict[str, object]]] = [
        ("graph", "POST", "/api/graph", {"json": {"code": new}}),
        ("graph", "POST", "/api/graph", {"json": {"code": REPEATED}}),
        ("refused", "POST", "/api/graph", {"json": {"code": "import os\n"}}),
        ("page", "GET", "/", {}),
        ("page", "GET", "/static/app.js", {}),
        ("ready", "GET", "/readyz", {}),
    ]
    if turn % 3 == 0:
        requests.append(("svg", "POST", "/api/graph.svg", {"json": {"code": new}}))
    return requests


def another_view(client: httpx.Client, program: object, shape: str) -> httpx.Response:
    """Another view of the answer's graph, as the page asks for it: from the replica that
    keeps the graph, else (it was killed, or let the graph go) from the program run again."""
    view: dict[str, list[int]] = {"collapsed": [], "rolled": []}
    drawn = page_like(client, "POST", "/api/graph/view", json={"shape": shape, "view": view})
    if drawn.status_code != 404 or not isinstance(program, dict):
        return drawn
    return page_like(client, "POST", "/api/graph", json={**program, "view": view})


def load(
    url: str, number: int, stop: threading.Event, killed: threading.Event, outcome: Outcome
) -> None:
    """One client's requests until `stop`, with the gradient check of every new answer."""
    with httpx.Client(base_url=url, timeout=60) as client:
        turn = 0
        while not stop.is_set():
            turn += 1
            for kind, method, path, options in mixed_requests(number, turn):
                after_kill = killed.is_set()
                try:
                    response = page_like(client, method, path, **options)
                    outcome.record(kind, response)
                    if kind == "graph" and response.status_code == 200:
                        answer = response.json()
                        drawn = another_view(client, options["json"], answer["shape"])
                        late = after_kill or killed.is_set()
                        outcome.record("view after kill" if late else "view", drawn)
                        extras = answer.get("extras")
                        if extras:
                            # Kept by the replica that answered: gone if it was killed since.
                            fetched = page_like(client, "GET", extras)
                            late = after_kill or killed.is_set()
                            outcome.record("extras after kill" if late else "extras", fetched)
                except httpx.HTTPError as error:
                    # No proxy can retry an answer whose first bytes it has passed on: a
                    # crash cuts what was in flight. Everything sent after it must be answered.
                    in_flight = not after_kill and killed.is_set()
                    cut = isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError))
                    record = outcome.lose if in_flight and cut else outcome.fail
                    record(kind, f"{type(error).__name__}: {error}")


def served(live: Live) -> int:
    """POSTs of programs that replica answered, from its access log."""
    return sum('"route": "/api/graph"' in line for line in live.output().splitlines())


def test_two_replicas_answer_every_request_while_one_is_killed() -> None:
    with (
        live_server(env=REPLICA_ENV) as first,
        live_server(env=REPLICA_ENV) as second,
        haproxy([first, second]) as url,
    ):
        outcome = Outcome()
        stop, killed = threading.Event(), threading.Event()
        clients = [
            threading.Thread(target=load, args=(url, number, stop, killed, outcome))
            for number in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        time.sleep(SECONDS_BEFORE_KILL)
        before = (served(first), served(second))
        # The whole replica at once, its job processes too, with requests in flight. Flagged
        # first: a request cut by the kill can fail before the line after the kill runs.
        killed.set()
        os.killpg(first.pid, signal.SIGKILL)
        time.sleep(SECONDS_AFTER_KILL)
        stop.set()
        for client in clients:
            client.join(120)
        after_kill = served(second) - before[1]
        # With no replica left, the proxy's own answer is one the page waits for and retries.
        os.killpg(second.pid, signal.SIGKILL)
        nobody = httpx.post(f"{url}/api/graph", json={"code": REPEATED}, timeout=30)

    assert outcome.failures == []
    # at most one request of each client was in flight when the replica died
    assert len(outcome.cut) <= CLIENTS, outcome.cut
    kinds = {kind for kind, _ in outcome.statuses}
    assert {"graph", "refused", "page", "ready", "svg", "extras", "view"} <= kinds
    # Known and not yet understood: now and then, before any kill, a gradient check's fetch
    # gets 404 from the proxy (seen 2 of about 180 in one run of six). The page then says
    # it could not be fetched; more than a few in a hundred is a regression.
    lost = outcome.statuses.pop(("extras", 404), 0)
    assert lost <= max(2, outcome.statuses["extras", 200] // 20), outcome.statuses
    unexpected = {
        (kind, status): count
        for (kind, status), count in outcome.statuses.items()
        if (kind, status) not in EXPECTED
    }
    assert unexpected == {}, outcome.statuses
    # both replicas took work before the kill, and the survivor all of it after
    assert min(before) > 0, before
    assert after_kill > 0
    # every answer carries the request id the proxy made (or the client's)
    assert "" not in outcome.request_ids
    assert nobody.status_code == 503
    assert nobody.headers["content-type"] == "application/problem+json"
    assert nobody.headers["retry-after"] == "2"
    assert nobody.json()["type"] == "/problems/busy"


EXPECTED = {
    ("graph", 200),
    ("refused", 422),
    ("page", 200),
    ("ready", 200),
    ("svg", 200),
    ("extras", 200),
    ("extras after kill", 200),
    # the check was kept by the killed replica: the page says it could not be fetched
    ("extras after kill", 404),
    ("view", 200),
    ("view after kill", 200),
}
