"""One process per job, forked ahead of time from a warm zygote, walled by the kernel.

A zygote is spawned by the server (not forked, so it shares no state with it), imports and
warms what its role needs (torch, or libgvc), takes the walls it can take once for itself and
every child (`app.server.wall.enclose_zygote`), and then only forks: it never runs a job. Each
forked job process takes its own walls and limits (`app.server.wall.enclose_job`), runs a
trusted warm-up so
that the copy-on-write faults of a job's first steps are paid before a request arrives, says
it is ready, runs exactly one job, answers and exits. So a job never sees another request's
data, and whatever a job did to its process ends with it.

The server keeps `size` job processes ready. Taking one asks the zygote for its successor at
once, so the fork and the warm-up run while the job runs, off the next request's path. A
background thread per pool does all the blocking work (spawning the zygote, waiting for
readiness, replacing a zygote that died): the event loop never waits for it.

The zygote is the parent of every job process and reaps it, and hands the server a pidfd for
each: a kill is aimed at that process, never at a reused pid.
"""

import asyncio
import collections
import contextlib
import ctypes
import dataclasses
import gc
import importlib
import json
import logging
import os
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Protocol

from app.server import wall

log = logging.getLogger(__name__)
READY = b"ready"
FAULT = b"fault\n"  # a job process that could not start says why, and the server logs it
STARTUP_TIMEOUT_S = 120.0
# Processes being forked or warmed at once: bounds a burst of refills.
MAX_WARMING = 8
FORK = b"f"
PID = struct.Struct("i")


class Runner(Protocol):
    """What a role's zygote prepares and each of its job processes runs."""

    def warm(self) -> None:
        """Trusted work run in a fresh job process, after its walls, before it is ready."""

    def run(self, job: bytes, send: Callable[[bytes], None]) -> bytes:
        """The job's last message; `send` sends any before it. Must not raise."""
        ...


@dataclass(frozen=True)
class Role:
    """A kind of job process. `prepare` names a module-level function ("module:function",
    as the zygote is a new interpreter) that the zygote runs once with `config`."""

    name: str
    prepare: str
    config: str
    memory_mb: int
    cpu_s: float

    def runner(self) -> Runner:
        module, _, function = self.prepare.partition(":")
        prepared: Runner = getattr(importlib.import_module(module), function)(self.config)
        return prepared


# In the zygote and its job processes ----------------------------------------------------


def zygote_main(control: Connection, role: Role) -> None:
    """Prepare the role, take the walls, then fork a job process whenever the server asks."""
    # A Ctrl-C in a terminal, or Jupyter's interrupt of a kernel running the local client,
    # goes to the whole process group; the zygote ends when its server closes the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A user namespace can only be entered while the process has one thread: before torch.
    namespace = wall.enter_namespaces()
    # A job process's standard output and error: nowhere (the server's log is not theirs to
    # write); what it must say goes through its pipe.
    nowhere = os.open(os.devnull, os.O_WRONLY)
    runner = role.runner()
    layers = {**wall.enclose_zygote(), **namespace}
    # Objects made so far are never collected: a collection in a job would touch, and so
    # copy, every page holding one.
    gc.freeze()
    _collapse_into_huge_pages()
    # Reaped as soon as they exit (the handler runs between the loop's calls), so no
    # finished job lingers as a zombie.
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    control.send_bytes(READY + json.dumps(layers).encode())
    server = socket.socket(fileno=os.dup(control.fileno()))
    while True:
        try:
            request = server.recv(1)
        except OSError:
            request = b""
        if request != FORK:
            os._exit(0)  # the server closed its end
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            server.close()
            control.close()
            ours.close()
            os.dup2(nowhere, 1)
            os.dup2(nowhere, 2)
            os.close(nowhere)
            _job_main(theirs.detach(), runner, role)
        theirs.close()
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(server, [PID.pack(pid)], [ours.fileno(), pidfd])
        finally:
            ours.close()
            os.close(pidfd)


def _reap() -> None:
    """Wait for every job process that has exited: their CPU time is then counted as the
    zygote's children's (what the benchmark reads). The server kills through pidfds, which
    never reach another process that reuses the pid."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 1024 * 1024


def _collapse_into_huge_pages() -> None:
    """Back the zygote's private memory with 2 MB pages where the kernel can: fork then
    copies one page-table entry per 2 MB instead of 512, and a job process's exit frees as
    few. Best effort: a kernel without transparent huge pages leaves the memory as it is."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    with open("/proc/self/maps", encoding="ascii") as maps:
        regions = [line.split() for line in maps]
    for fields in regions:
        if fields[1] != "rw-p" or (len(fields) > 5 and fields[5] != "[heap]"):
            continue  # only anonymous private memory: Python's and torch's heaps
        start, end = (int(address, 16) for address in fields[0].split("-"))
        low = -(-start // HUGE_PAGE) * HUGE_PAGE
        high = end // HUGE_PAGE * HUGE_PAGE
        if high > low:
            libc.madvise(low, high - low, MADV_HUGEPAGE)
            libc.madvise(low, high - low, MADV_COLLAPSE)


def _job_main(descriptor: int, runner: Runner, role: Role) -> None:
    """A job process: walls, limits, warm-up, one job, exit. Never returns."""
    connection = Connection(descriptor)
    try:
        wall.enclose_job()
        memory = role.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        runner.warm()
        connection.send_bytes(READY)
    except BaseException:
        with contextlib.suppress(BaseException):
            connection.send_bytes(FAULT + traceback.format_exc()[-4000:].encode())
        os._exit(1)
    try:
        job = connection.recv_bytes()
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(used.ru_utime + used.ru_stime)
        limit = spent + int(role.cpu_s) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))
        connection.send_bytes(runner.run(job, connection.send_bytes))
    except BaseException:  # noqa: S110 - the server sees the closed pipe and says so
        pass
    os._exit(0)


# In the server -----------------------------------------------------------------------------


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():  # a reader callback can run again before its task resumes
        future.set_result(None)


@dataclass
class JobProcess:
    """The server's end of one job process: its pipe, and a pidfd to kill it by."""

    pid: int
    pidfd: int
    connection: Connection
    ready: bool = False
    fault: str | None = field(default=None, repr=False)
    # Why it is let go of when it did not end its job itself: "timeout" or "killed".
    ended: str | None = None

    def alive(self) -> bool:
        """False once the process has exited (its pidfd becomes readable)."""
        import select

        try:
            readable, _, _ = select.select([self.pidfd], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def send(self, job: bytes) -> bool:
        """False if the process died."""
        try:
            self.connection.send_bytes(job)
        except OSError:
            return False
        return True

    def receive(self, timeout: float) -> bytes | None:
        """The process's next message; None if none came in time or it died."""
        try:
            if self.connection.poll(max(timeout, 0)):
                return self.connection.recv_bytes()
        except (EOFError, OSError):
            pass
        return None

    async def receive_async(self, timeout: float) -> bytes | None:
        """`receive` on the event loop: woken by the pipe itself, with no thread between."""
        loop = asyncio.get_running_loop()
        descriptor = self.connection.fileno()
        try:
            async with asyncio.timeout(max(timeout, 0)):
                # The loop may report a pipe readable that is not (yet): wait until it is.
                while not self.connection.poll(0):
                    readable: asyncio.Future[None] = loop.create_future()
                    loop.add_reader(descriptor, _resolve, readable)
                    try:
                        await readable
                    finally:
                        loop.remove_reader(descriptor)
                        # uvloop made the pipe non-blocking; Connection reads need it blocking,
                        # or a message read while it still arrives fails half way.
                        os.set_blocking(descriptor, True)
        except TimeoutError:
            return None
        except (EOFError, OSError):
            pass  # the process died: receive says so
        return self.receive(0)

    def stop(self) -> None:
        """Kill the process (if it has not exited) and let go of it. Safe to call twice."""
        if self.pidfd < 0:
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        os.close(self.pidfd)
        self.pidfd = -1
        self.connection.close()


class ProcessPool:
    """`size` job processes of one role kept ready; each is handed to `deliver` (from the
    pool's thread) once it has warmed up. Call `refill` once for every process taken."""

    def __init__(self, role: Role, size: int, deliver: Callable[[JobProcess], None]) -> None:
        self.role = role
        self.size = size
        self.deliver = deliver
        self.layers: dict[str, str] = {}
        self.zygote: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.wanted = 0  # forks asked for and not yet made
        self.lock = threading.Condition()
        self.started = threading.Event()
        self.delivered = 0
        self.stopping = False
        self.warming: dict[int, JobProcess] = {}
        # Processes replaced, by cause (see `refill`): read by /metrics.
        self.restarts: collections.Counter[str] = collections.Counter()
        self.wake_reader, self.wake_writer = os.pipe()
        os.set_blocking(self.wake_writer, False)
        self.thread = threading.Thread(target=self._serve, name=f"pool {role.name}", daemon=True)

    def start(self) -> None:
        self.wanted = self.size
        self.thread.start()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until the first `size` processes were delivered."""
        if not self.started.wait(timeout):
            raise RuntimeError(f"the {self.role.name} processes did not start")

    def refill(self, cause: str = "completed") -> None:
        """Ask for one more process (from any thread), in place of one let go of for `cause`:
        "completed" (its job is done), "timeout", "killed" or "died_idle"."""
        with self.lock:
            self.wanted += 1
            self.restarts[cause] += 1
        self._wake()

    def restart_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.restarts)

    def stop(self) -> None:
        self.stopping = True
        self._wake()
        self.thread.join(10)
        for process in list(self.warming.values()):
            process.stop()
        self._drop_zygote()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.wake_writer, b"x")

    def _serve(self) -> None:
        """The pool's thread: keep a zygote, ask it for forks, deliver warmed processes."""
        selector = selectors.DefaultSelector()
        selector.register(self.wake_reader, selectors.EVENT_READ)
        while not self.stopping:
            try:
                self._fork_wanted(selector)
            except Exception:  # this thread must outlive any zygote's failure
                log.exception("the %s zygote failed; starting another", self.role.name)
                with self.lock:
                    self.restarts["zygote"] += 1
                self._drop_zygote()
                time.sleep(1.0)
                continue
            for key, _ in selector.select(1.0):
                if key.fileobj == self.wake_reader:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_reader, 4096)
                    continue
                assert isinstance(key.fileobj, int)
                selector.unregister(key.fileobj)
                self._warmed(self.warming.pop(key.fileobj))
        selector.close()

    def _fork_wanted(self, selector: selectors.BaseSelector) -> None:
        while self.wanted > 0 and len(self.warming) < MAX_WARMING and not self.stopping:
            if self.control is None:
                self._restart_zygote()
            assert self.control is not None
            self.control.sendall(FORK)
            data, descriptors, _, _ = socket.recv_fds(self.control, PID.size, 2)
            if len(data) != PID.size or len(descriptors) != 2:
                for descriptor in descriptors:
                    os.close(descriptor)
                raise OSError("the zygote did not answer")
            (pid,) = PID.unpack(data)
            pipe, pidfd = descriptors
            process = JobProcess(pid, pidfd, Connection(pipe))
            with self.lock:
                self.wanted -= 1
            self.warming[pipe] = process
            selector.register(pipe, selectors.EVENT_READ)

    def _warmed(self, process: JobProcess) -> None:
        message = process.receive(0)
        if message != READY:
            detail = (message or b"it exited").removeprefix(FAULT).decode(errors="replace")
            log.error("a %s process did not start: %s", self.role.name, detail)
            process.stop()
            time.sleep(0.5)  # a fault at start is likely to repeat: do not spin on it
            with self.lock:
                self.wanted += 1
                self.restarts["start_failed"] += 1
            return
        process.ready = True
        self.deliver(process)
        self.delivered += 1
        if self.delivered >= self.size:
            self.started.set()

    def _drop_zygote(self) -> None:
        if self.zygote is not None:
            self.zygote.kill()
            self.zygote.wait(5)
            self.zygote = None
        if self.control is not None:
            self.control.close()
            self.control = None

    def _restart_zygote(self) -> None:
        """Spawn a zygote and wait (in this thread) until it has warmed up."""
        self._drop_zygote()
        ours, theirs = socket.socketpair()
        # A new interpreter, not multiprocessing's spawn: that would also start its resource
        # tracker, a child of the server outside the wall.
        self.zygote = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "app.server.pool", str(theirs.fileno())],
            stdin=subprocess.PIPE,
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        assert self.zygote.stdin is not None
        self.zygote.stdin.write(json.dumps(dataclasses.asdict(self.role)).encode())
        self.zygote.stdin.close()
        parent = Connection(ours.detach())
        if not parent.poll(STARTUP_TIMEOUT_S):
            raise OSError(f"the {self.role.name} zygote did not start")
        message = parent.recv_bytes()
        if not message.startswith(READY):
            raise OSError(f"the {self.role.name} zygote did not start")
        self.layers = json.loads(message.removeprefix(READY))
        for layer, state in self.layers.items():
            if state != "present":
                log.critical("sandbox wall of the %s: %s is %s", self.role.name, layer, state)
        self.control = socket.socket(fileno=os.dup(parent.fileno()))
        parent.close()


if __name__ == "__main__":
    # The zygote: the pool module under its own name, not a second copy as __main__.
    from app.server import pool

    pool.zygote_main(Connection(int(sys.argv[1])), pool.Role(**json.loads(sys.stdin.buffer.read())))
