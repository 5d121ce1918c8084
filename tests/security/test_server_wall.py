"""The wall of a real server's processes, as root and as an ordinary user, and where a
server with a weakened wall may listen."""

import sys
import time

import httpx
import pytest

from bench.server import children, descendants
from tests.security.live_server import interpreter_for_all, live_server
from tests.security.test_wall import status, walled

PROGRAM = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\n# {}"
BIG_PROGRAM = (
    "import torch\nx = torch.tensor(1.0, requires_grad=True)\ny = x\n"
    "for _ in range(80):\n    y = y * x + 1\n# {}"
)
# Starts the server under a filter that refuses unshare: a kernel (or container) without
# namespaces for the job processes, so one layer of the wall is missing.
WITHOUT_NAMESPACES = (
    sys.executable,
    "-c",
    "import errno, os, sys, pyseccomp as s\n"
    "f = s.SyscallFilter(s.ALLOW)\n"
    "f.add_rule(s.ERRNO(errno.EPERM), 'unshare')\n"
    "f.load()\n"
    "os.execv(sys.argv[1], sys.argv[1:])",
)
AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def job_processes(server: int) -> set[int]:
    """The live processes forked by the server's zygotes (its grandchildren)."""
    return {job for zygote in children(server) for job in children(zygote) if running(job)}


def running(pid: int) -> bool:
    """Not ended (nor ended and not yet reaped)."""
    try:
        return "\tZ" not in status(pid)["State"]
    except OSError:
        return False


@pytest.mark.parametrize("prefix", [(), AS_NOBODY], ids=["as started", "as nobody"])
def test_every_process_of_the_server_is_walled_and_a_job_ends_with_its_request(
    prefix: tuple[str, ...],
) -> None:
    python = interpreter_for_all() if prefix else None
    # A job process that answered waits this long for its gradient check to be asked for.
    waits = {"AGX_EXTRAS_WAIT_S": "1.5"}
    with live_server(prefix=prefix, env=waits, python=python) as server:
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["sandbox"] == "full", health["wall"]
        before = job_processes(server.pid)
        assert len(before) >= 4  # two for evaluation and two for layout, forked ahead
        # As the page runs a program: the answer, then its gradient check.
        response = httpx.post(
            f"{server.url}/api/graph", json={"code": PROGRAM.format(time.time())}, timeout=30
        )
        assert response.status_code == 200
        assert httpx.get(server.url + response.json()["extras"], timeout=30).status_code == 200
        time.sleep(0.5)  # the successors are forked and warmed
        processes = [pid for pid in descendants(server.pid) if running(pid)]
        assert len(processes) >= 6
        for pid in processes:
            assert walled(pid) == [], (pid, server.output()[-2000:])
        after = job_processes(server.pid)
        gone = before - after
        assert len(gone) == 1  # the evaluation of that request, which laid out its drawing
        assert len(after) == len(before)
        # An answer whose check nobody asks for: its process waits, walled, then ends. Its
        # graph has more than 150 nodes, so a layout process of its own draws it.
        other = BIG_PROGRAM.format(time.time())
        response = httpx.post(f"{server.url}/api/graph", json={"code": other}, timeout=30)
        assert response.status_code == 200
        time.sleep(0.5)
        now = job_processes(server.pid)
        assert len(now & after) == len(after) - 1  # the layout's is gone, the answer's waits
        assert len(now - after) == 2  # and both have their successors
        for pid in now:
            assert walled(pid) == [], (pid, server.output()[-2000:])
        time.sleep(1.5)
        assert len(job_processes(server.pid) & after) == len(after) - 2


def test_a_weakened_wall_listens_on_loopback_only_and_says_so() -> None:
    refused = None
    with live_server("0.0.0.0", WITHOUT_NAMESPACES, wait=False) as server:
        refused = server.process.wait(120)
        output = server.output()
    assert refused != 0
    assert "refusing to listen on 0.0.0.0" in output
    assert "network_namespace" in output
    with live_server("127.0.0.1", WITHOUT_NAMESPACES) as server:
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["sandbox"] == "weakened"
        assert health["wall"]["network_namespace"].startswith("evaluation: missing")
        assert health["wall"]["seccomp"] == "present"
        assert "SANDBOX WALL WEAKENED" in server.output()
    allowed = {"AGX_ALLOW_WEAK_SANDBOX": "1"}
    with live_server("0.0.0.0", WITHOUT_NAMESPACES, env=allowed) as server:
        assert httpx.get(f"{server.url}/healthz").json()["sandbox"] == "weakened"
