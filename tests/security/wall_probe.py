"""A test-only kind of job process: it tries what the kernel's wall must refuse.

It is a `Role` of its own, defined here in the tests, so no request and no program can ever
reach it: the server's pools are built with the evaluation and layout roles only. It runs
in a real job process, forked by a real zygote and walled by `app.server.wall`, like every job.
"""

import ctypes
import json
import os
import resource
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where the probe tries to write: inside the repository, so that a test can check no file
# was left.
TARGET = ROOT / "test-results" / "wall-probe-written"
PTRACE_ATTACH = 16
IPC_KEY = 0x41475831  # any key: IPC_CREAT (0o1000) would make it, and it would outlive the job


def prepare_probe(_: str) -> "Probe":
    return Probe()


class Probe:
    def warm(self) -> None:
        pass

    def run(self, job: bytes, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> bytes:
        """Each attempt, "denied: <reason>" or "ALLOWED"."""
        targets = json.loads(job)
        attempts: dict[str, Callable[[], object]] = {
            "socket": lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
            "unix socket": lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
            "socketpair": socket.socketpair,
            "open for writing": lambda: open(TARGET, "w"),  # noqa: SIM115
            "open for appending": lambda: open(ROOT / "README.md", "a"),  # noqa: SIM115
            "execve": lambda: os.execv(sys.executable, [sys.executable, "-c", "pass"]),
            "fork": _fork,
            "sibling's memory": lambda: _read_memory(targets["sibling"]),
            "zygote's memory": lambda: _read_memory(targets["zygote"]),
            "ptrace the zygote": lambda: _libc_call("ptrace", PTRACE_ATTACH, targets["zygote"]),
            "ptrace the sibling": lambda: _libc_call("ptrace", PTRACE_ATTACH, targets["sibling"]),
            "unshare": lambda: _libc_call("unshare", 0x10000000),
            "setuid 0": lambda: os.setuid(0),
            "signal the zygote": lambda: os.kill(targets["zygote"], 0),
            # The zygote and every job share one uid: the kernel alone would allow these.
            "lower the zygote's limits": lambda: resource.prlimit(
                targets["zygote"], resource.RLIMIT_NOFILE, (3, 3)
            ),
            "lower the sibling's priority": lambda: os.setpriority(
                os.PRIO_PROCESS, targets["sibling"], 19
            ),
            "move the sibling to one CPU": lambda: os.sched_setaffinity(targets["sibling"], {0}),
            "System V shared memory": lambda: _libc_call("shmget", IPC_KEY, 1 << 20, 0o1666),
            "System V message queue": lambda: _libc_call("msgget", IPC_KEY, 0o1666),
            "System V semaphores": lambda: _libc_call("semget", IPC_KEY, 1, 0o1666),
        }
        results = {name: _attempt(action) for name, action in attempts.items()}
        results["read a file of the repository"] = _attempt(
            lambda: (ROOT / "pyproject.toml").read_bytes()
        )
        return json.dumps({"attempts": results, "thread": _this_thread()}).encode()


def _this_thread() -> dict[str, str]:
    """The wall as the kernel holds it for the thread running the job (seccomp filters and
    no_new_privs are each thread's own), and whether that is the process's main thread."""
    lines = Path("/proc/thread-self/status").read_text().splitlines()
    fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    main = threading.current_thread() is threading.main_thread()
    return {
        "Seccomp": fields["Seccomp"],
        "NoNewPrivs": fields["NoNewPrivs"],
        "main": str(main),
    }


def _attempt(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as error:
        return f"denied: {error.strerror or error}"
    return "ALLOWED"


def _fork() -> None:
    if os.fork() == 0:  # only if the wall failed: the copy must not run the probe on
        os._exit(0)


def _read_memory(pid: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb") as memory:
        return memory.read(1)


def _libc_call(name: str, *arguments: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result: int = getattr(libc, name)(*(ctypes.c_long(a) for a in arguments))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result
