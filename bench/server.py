"""The real server, as users run it: uvicorn in a subprocess on a free port."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.server.http import UVICORN_LIMITS

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(root: Path = ROOT) -> Iterator[Server]:
    """Ready when /healthz answers, which the app does only once every worker is warm.
    `root` is the checkout whose app it serves (bench.compare starts two)."""
    port = _free_port()
    uvicorn = shutil.which("uvicorn", path=str(Path(sys.executable).parent)) or "uvicorn"
    command = [uvicorn, "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    # As `make serve` runs it (bench.compare: if the checkout has the limits, where it has).
    if any((root / "app" / where / "http.py").exists() for where in ("server", "")):
        command += list(UVICORN_LIMITS)
    # Its access log (a JSON line a request, on stdout) is written, as a server's is, and
    # dropped: the benchmark's own output is its table.
    # Each request is made unique by a comment, which changes no drawing: with the drawings
    # kept by their DOT, every request after the first would be measured without a layout.
    environment = {**os.environ, "AGX_DRAWING_CACHE_ENTRIES": "0"}
    process = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=root, stdout=subprocess.DEVNULL, env=environment
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(60)


def processes_by_role(pid: int) -> dict[str, list[int]]:
    """The server and its children, by what they run (told apart by the libraries mapped)."""
    roles: dict[str, list[int]] = {"server": [pid]}
    for child in descendants(pid):
        try:
            maps = Path(f"/proc/{child}/maps").read_text()
        except OSError:
            continue
        if "libtorch" in maps:
            roles.setdefault("evaluation worker", []).append(child)
        elif "libgvc" in maps:
            roles.setdefault("layout helper", []).append(child)
    return roles


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak; empty for a process that has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in status.splitlines())
    return {"rss_mb": _mb(fields["VmRSS"]), "peak_rss_mb": _mb(fields["VmHWM"])}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used; 0 once it is gone."""
    try:
        return _clock_seconds(pid, 11)
    except OSError:
        return 0.0


def reaped_cpu_seconds(pid: int) -> float:
    """CPU time of the children `pid` has waited for (a zygote's: its finished job processes)."""
    return _clock_seconds(pid, 13)


def _clock_seconds(pid: int, field: int) -> float:
    """The user and system times at `field` and `field` + 1 of /proc/pid/stat (after the
    command name, which may hold spaces), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[field]) + int(fields[field + 1])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of `pid`."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (job processes come and go: one may end while read)."""
    found = []
    for child in children(pid) if Path(f"/proc/{pid}").exists() else []:
        found.extend([child, *descendants(child)])
    return found


def _mb(field: str) -> float:
    return round(int(field.split()[0]) / 1024, 1)
