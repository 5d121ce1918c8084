"""The kernel's wall, seen from inside a real job process and from the server's /proc."""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.server.pool import JobProcess, ProcessPool, Role
from tests.security.wall_probe import TARGET

LAYER_LINES = ("Seccomp:\t2", "NoNewPrivs:\t1")


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def walled(pid: int) -> list[str]:
    """What is wrong with `pid`'s wall, from the outside; empty when it holds."""
    fields = status(pid)
    wrong = [
        f"{name} is {fields[name].strip()}"
        for name, value in (("Seccomp", "2"), ("NoNewPrivs", "1"))
        if fields[name].strip() != value
    ]
    uids = fields["Uid"].split()
    if "0" in uids:
        wrong.append(f"uid {uids}")
    if os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
        wrong.append("the server's network namespace")
    return wrong


@pytest.fixture(scope="module")
def probes() -> Iterator[ProcessPool]:
    pool = ProcessPool(
        Role("wall probe", "tests.security.wall_probe:prepare_probe", "", 512, 5.0), 1, limit=False
    )
    pool.start()
    pool.wait_ready(60)
    yield pool
    pool.stop()


def take(pool: ProcessPool) -> JobProcess:
    process = pool.take(30)
    assert process is not None
    return process


def test_a_job_process_is_walled_from_inside(probes: ProcessPool) -> None:
    pool = probes
    assert pool.zygote is not None
    assert pool.zygote.pid is not None
    assert all(state == "present" for state in pool.layers.values()), pool.layers
    job, sibling = take(pool), take(pool)
    try:
        for pid in (job.pid, sibling.pid, pool.zygote.pid):
            assert walled(pid) == [], pid
        targets = {"sibling": sibling.pid, "zygote": pool.zygote.pid}
        assert job.send(json.dumps(targets).encode(), 30)
        answer = job.receive(30)
        assert answer is not None
        answered = json.loads(answer)
    finally:
        pool.release(job)
        pool.release(sibling)
    # The job runs in a thread of its own (`app.server.pool.in_own_arena`), made after the
    # walls: it holds them as the process's first thread does.
    assert answered["thread"] == {"Seccomp": "2", "NoNewPrivs": "1", "main": "False"}
    results = answered["attempts"]
    allowed = results.pop("read a file of the repository")
    assert allowed == "ALLOWED"  # the wall refuses writes, not a job's own reading
    assert {name: r for name, r in results.items() if not r.startswith("denied")} == {}
    assert not TARGET.exists()


def test_a_job_process_ends_with_its_job(probes: ProcessPool) -> None:
    pool = probes
    job = take(pool)
    try:
        assert job.send(json.dumps({"sibling": job.pid, "zygote": job.pid}).encode(), 30)
        assert job.receive(30) is not None
        deadline = time.monotonic() + 5
        while job.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not job.alive()
    finally:
        pool.release(job)
