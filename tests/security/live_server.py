"""The real server as its users start it (`uvicorn app.main:app`), for the tests that need
its processes, its command line or another user."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.server.http import UVICORN_OPTIONS  # as `agx serve` runs it

ROOT = Path(__file__).resolve().parents[2]
UVICORN = shutil.which("uvicorn", path=str(Path(sys.executable).parent)) or "uvicorn"


@dataclass
class Live:
    url: str
    process: "subprocess.Popen[bytes]"
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def open_to_all(path: Path, execute: bool = False) -> bool:
    """Whether any user may read (or run) `path` and search and list every directory above."""
    path = path.resolve()
    wanted = 0o005 if execute or path.is_dir() else 0o004
    directories = path.parents if not path.is_dir() else [path, *path.parents]
    return path.stat().st_mode & wanted == wanted and all(
        directory.stat().st_mode & 0o005 == 0o005 for directory in directories
    )


def interpreter_for_all() -> list[str]:
    """A command that starts this Python with the project's packages, runnable by any user:
    the venv's own link may point into a home directory other users cannot enter."""
    names = (
        sys.executable,
        getattr(sys, "_base_executable", sys.executable),  # what the venv was made from
        "/usr/local/bin/python3.11",
        "/usr/bin/python3.11",
    )
    for candidate in names:
        if Path(candidate).exists() and open_to_all(Path(candidate), execute=True):
            return [str(Path(candidate).resolve())]
    raise RuntimeError("no Python 3.11 that other users may run")


@contextmanager
def live_server(
    host: str = "127.0.0.1",
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    wait: bool = True,
    python: list[str] | None = None,
) -> Iterator[Live]:
    """uvicorn serving the app; with `wait`, only once /healthz answers. `prefix` runs it
    under another command (another user, a launcher); `python`, under that interpreter
    with the project's packages on its path."""
    port = free_port()
    uvicorn = [UVICORN] if python is None else [*python, "-m", "uvicorn"]
    command = [*prefix, *uvicorn, "app.main:app", "--host", host, "--port", str(port)]
    command += list(UVICORN_OPTIONS)
    with tempfile.TemporaryDirectory() as directory:
        root = ROOT
        if python is not None:
            packages = [p for p in sys.path if p.endswith("site-packages")]
            if not all(open_to_all(Path(p)) for p in packages):
                raise RuntimeError(f"other users cannot read the packages in {packages}")
            if not open_to_all(ROOT / "app" / "main.py"):
                root = _copy_open_to_all(Path(directory) / "repository")
            env = {**(env or {}), "PYTHONPATH": os.pathsep.join([str(root), *packages])}
        log = Path(directory) / "server.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=root,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "AGX_WORKERS": "2", **(env or {})},
                start_new_session=True,
            )
        live = Live(f"http://127.0.0.1:{port}", process, log)
        try:
            if wait:
                wait_healthy(live)
            yield live
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


def _copy_open_to_all(target: Path) -> Path:
    """The server's own files (not the tests), where any user may read them: the checkout
    may lie where another user cannot."""
    for part in ("app", "static", "templates"):
        shutil.copytree(ROOT / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [target.parent, target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def wait_healthy(live: Live, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{live.output()[-3000:]}")
        try:
            if httpx.get(f"{live.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start:\n{live.output()[-3000:]}")
