"""One process per job, forked ahead of time from a warm zygote, walled by the kernel.

A zygote is spawned by the server (not forked, so it shares no state with it), imports and
warms what its role needs (torch, or libgvc), takes the walls it can take once for itself and
every child (`app.server.wall.enclose_zygote`), and then only forks: it never runs a job. Each
forked job process takes its own walls and limits (`app.server.wall.enclose_job`), then, in a
thread with a malloc arena of its own (`in_own_arena`), runs a trusted warm-up so that the
copy-on-write faults of a job's first steps are paid before a request arrives, says it is
ready, runs exactly one job, answers and exits. So a job never sees another request's
data, and whatever a job did to its process ends with it.

`ProcessPool` is that machinery for one role, whatever the role: the evaluation pool
(`app.server.workers`) and the layout service (`app.server.layout`) each make one, and
supply only what differs: the `Role` (what the zygote imports and warms, memory and CPU
limits), the job's message and how its answer is read, and whether jobs beyond `slots` wait.
The pool keeps three warm processes per slot; releasing one after its job asks the zygote
for its successor, which is forked and warmed while the spares take the next jobs, off their
path. A thread per pool does all the blocking work (spawning the zygote, waiting for
readiness, replacing a zygote that died or stopped answering), and the server's end of every
pipe is non-blocking with a deadline on each wait: the event loop never waits for a process.

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
import select
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
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Protocol

from app.server import wall

log = logging.getLogger(__name__)
READY = b"ready"
FAULT = b"fault\n"  # a job process that could not start says why, and the server logs it
STARTUP_TIMEOUT_S = 120.0
# A fork takes milliseconds: a zygote that does not answer in this long is stuck, and replaced.
FORK_TIMEOUT_S = 10.0
# Warm processes kept for each job that may run at once: under load every ready process is
# taken as soon as it is warm, and those being forked and warmed meanwhile are what keeps
# the next jobs from waiting.
SPARES_PER_SLOT = 3
# Processes being forked or warmed at once: bounds a burst of refills.
MAX_WARMING = 8
FORK = b"f"
JOB_STACK_BYTES = 8 * 1024 * 1024  # the job thread's stack, as a main thread's usually is
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
PID = struct.Struct("i")


class Runner(Protocol):
    """What a role's zygote prepares and each of its job processes runs."""

    def warm(self) -> None:
        """Trusted work run in a fresh job process, after its walls, before it is ready."""

    def run(self, job: bytes, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> bytes:
        """The job's last message; `send` sends any before it, and `receive` waits for the
        server's next word. Must not raise."""
        ...


@dataclass(frozen=True)
class Role:
    """A kind of job process ("evaluation", "layout": what logs and metrics call its pool).
    `prepare` names a module-level function ("module:function",
    as the zygote is a new interpreter) that the zygote runs once with `config`."""

    name: str
    prepare: str
    config: str
    memory_mb: int
    cpu_s: float
    # The largest message the server reads from one of its processes: a process that a
    # program took over could claim any size in a header and send for as long as its time
    # lasts. By default what the process's memory could hold.
    max_message_bytes: int | None = None

    @property
    def message_limit(self) -> int:
        return self.max_message_bytes or self.memory_mb * 1024 * 1024

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
    signal.signal(signal.SIGCHLD, lambda *_: _reap(role.name))
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


# Signals a process gets from its own fault: a native kernel's bad read or write, a division
# the processor refuses, an abort. (The server's kills on a job's time limit are SIGKILL.)
CRASHES = frozenset(
    {
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGILL,
        signal.SIGABRT,
        signal.SIGSYS,
        signal.SIGTRAP,
    }
)


def _reap(role: str) -> None:
    """Wait for every job process that has exited: their CPU time is then counted as the
    zygote's children's (what the benchmark reads). The server kills through pidfds, which
    never reach another process that reuses the pid. One that crashed is reported to the
    server's log (the zygote's standard error is the server's), by the pid the server logs
    with the job it gave it: a program that reached a fault in native code is what the
    walls are for, and an operator should hear of it."""
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) in CRASHES:
                name = signal.Signals(os.WTERMSIG(status)).name
                with contextlib.suppress(OSError):
                    os.write(2, f"agx: {role} job process {pid} crashed ({name})\n".encode())


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
    """A job process: walls, limits, then its warm-up and one job in a thread of its own
    (`in_own_arena`), exit. Never returns."""
    connection = Connection(descriptor)
    try:
        wall.enclose_job()
        memory = role.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        in_own_arena(lambda: _warm_then_run(connection, runner, role))
    except BaseException:
        _fault(connection)
    os._exit(0)


def in_own_arena(work: Callable[[], None]) -> None:
    """`work` in a new thread, waited for. glibc gives a new thread a malloc arena of its own,
    so a job's C allocations (torch's tensors, Graphviz's layouts) fill fresh pages densely;
    in the main thread they would take the free chunks scattered over the heap the zygote
    left, each on a page shared with the zygote that the first write copies (a copy-on-write
    fault). The thread is made before the job comes, with the warm-up."""
    # A thread's stack is glibc's default otherwise: the soft RLIMIT_STACK, or 2 MB when that
    # is unlimited. The sandbox's nesting limits are tested with this much.
    threading.stack_size(JOB_STACK_BYTES)
    thread = threading.Thread(target=work, name="job")
    thread.start()
    thread.join()


def _warm_then_run(connection: Connection, runner: Runner, role: Role) -> None:
    try:
        runner.warm()
        connection.send_bytes(READY)
    except BaseException:
        _fault(connection)
    try:
        job = connection.recv_bytes()
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(used.ru_utime + used.ru_stime)
        limit = spent + int(role.cpu_s) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))
        connection.send_bytes(runner.run(job, connection.send_bytes, connection.recv_bytes))
    except BaseException:  # noqa: S110 - the server sees the closed pipe and says so
        pass


def _fault(connection: Connection) -> None:
    """Why a job process could not start, to the server, then its exit. Never returns."""
    with contextlib.suppress(BaseException):
        connection.send_bytes(FAULT + traceback.format_exc()[-4000:].encode())
    os._exit(1)


# In the server -----------------------------------------------------------------------------


# The most of a message read at once.
PIECE = 1024 * 1024


class Frame:
    """One message on a job process's pipe, in the framing of `Connection.send_bytes` (what
    the job process writes and reads): a 4-byte signed length, or -1 then an 8-byte one, then
    the bytes. The server's end of the pipe is non-blocking, so a message is read and written
    in the pieces the pipe holds, each wait bounded by a deadline, never by the other end."""

    SHORT = struct.Struct("!i")
    LONG = struct.Struct("!Q")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.header = bytearray()
        self.size: int | None = None
        self.pieces: list[bytes] = []
        self.filled = 0

    @classmethod
    def encode(cls, message: bytes) -> list[bytes]:
        """The header and the message, as `Connection.send_bytes` writes them."""
        if len(message) > 0x7FFFFFFF:
            return [cls.SHORT.pack(-1) + cls.LONG.pack(len(message)), message]
        return [cls.SHORT.pack(len(message)), message]

    def read(self, pipe: int) -> bytes | None:
        """Read what the pipe has of the message, never past its end (the next message stays
        in the pipe); the message once whole, else None. EOFError if the pipe closed."""
        while self.size is None:
            wanted = self._header_size() - len(self.header)
            if wanted == 0:
                self.size = self._size()
                break
            chunk = self._read(pipe, wanted)
            if chunk is None:
                return None
            self.header += chunk
        while self.filled < self.size:
            # Memory follows the bytes that came, whatever size the header claims.
            chunk = self._read(pipe, min(self.size - self.filled, PIECE))
            if chunk is None:
                return None
            self.pieces.append(chunk)
            self.filled += len(chunk)
        return b"".join(self.pieces)

    def _header_size(self) -> int:
        if len(self.header) >= self.SHORT.size and self.SHORT.unpack_from(self.header)[0] == -1:
            return self.SHORT.size + self.LONG.size
        return self.SHORT.size

    def _size(self) -> int:
        (size,) = self.SHORT.unpack_from(self.header)
        if size == -1:
            (size,) = self.LONG.unpack_from(self.header, self.SHORT.size)
        if size < 0 or size > self.limit:
            raise EOFError  # not a message, or more than any the process may send: unusable
        return int(size)

    @staticmethod
    def _read(pipe: int, size: int) -> bytes | None:
        try:
            chunk = os.read(pipe, size)
        except BlockingIOError:
            return None
        if not chunk:
            raise EOFError
        return chunk


def _write(pipe: int, pieces: list[memoryview]) -> bool:
    """Write what the pipe takes of `pieces`, dropping what was written; True once all is."""
    while pieces:
        try:
            written = os.writev(pipe, pieces)
        except BlockingIOError:
            return False
        while written and pieces:
            taken = min(written, len(pieces[0]))
            written -= taken
            pieces[0] = pieces[0][taken:]
            if not pieces[0]:
                pieces.pop(0)
    return True


def _wait_for(descriptor: int, events: int, timeout: float) -> bool:
    """Block this thread until `descriptor` is ready for `events` or `timeout` passed. poll,
    not select: a busy server's descriptors may be numbered past select's 1,024."""
    poller = select.poll()
    poller.register(descriptor, events)
    return bool(poller.poll(max(timeout, 0) * 1000))


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():  # a reader callback can run again before its task resumes
        future.set_result(None)


async def _ready_on_loop(descriptor: int, for_writing: bool) -> None:
    """Wait on the event loop, woken by the descriptor itself: no thread between."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    if for_writing:
        loop.add_writer(descriptor, _resolve, ready)
    else:
        loop.add_reader(descriptor, _resolve, ready)
    try:
        await ready
    finally:
        if for_writing:
            loop.remove_writer(descriptor)
        else:
            loop.remove_reader(descriptor)


@dataclass
class JobProcess:
    """The server's end of one job process: its pipe (non-blocking), and a pidfd to kill it
    by. Each of its waits has a deadline: a send or a receive that runs out of it, or meets a
    closed pipe, says so (False, None), and the process is then let go of."""

    pid: int
    pidfd: int
    pipe: int
    message_limit: int  # the largest message read from it (Role.message_limit)
    # Why it is let go of when it did not end its job itself: "timeout" or "killed".
    ended: str | None = None

    def __post_init__(self) -> None:
        os.set_blocking(self.pipe, False)

    def alive(self) -> bool:
        """False once the process has exited (its pidfd becomes readable)."""
        try:
            return not _wait_for(self.pidfd, select.POLLIN, 0)
        except (OSError, ValueError):
            return False

    def resident(self) -> int:
        """Bytes of memory the process has resident, read by the server from /proc (what
        the process would say of itself is not to be trusted); 0 once it has exited."""
        try:
            with open(f"/proc/{self.pid}/statm", encoding="ascii") as statm:
                return int(statm.read().split()[1]) * PAGE_BYTES
        except (OSError, ValueError, IndexError):
            return 0

    def send(self, message: bytes, timeout: float) -> bool:
        """Send from a thread; False if the process died or did not read it in time."""
        deadline = time.monotonic() + timeout
        pieces = [memoryview(piece) for piece in Frame.encode(message)]
        try:
            while not _write(self.pipe, pieces):
                if not _wait_for(self.pipe, select.POLLOUT, deadline - time.monotonic()):
                    return False
        except OSError:
            return False
        return True

    async def send_async(self, message: bytes, timeout: float) -> bool:
        """`send` on the event loop: what the pipe takes now is written at once (all of a
        job of ordinary size), the rest as the process reads."""
        pieces = [memoryview(piece) for piece in Frame.encode(message)]
        try:
            async with asyncio.timeout(max(timeout, 0)):
                while not _write(self.pipe, pieces):
                    await _ready_on_loop(self.pipe, for_writing=True)
        except (TimeoutError, OSError):
            return False
        return True

    def receive(self, timeout: float) -> bytes | None:
        """The process's next message, read in a thread; None if it did not come whole in
        time or the process died."""
        deadline = time.monotonic() + timeout
        frame = Frame(self.message_limit)
        try:
            while (message := frame.read(self.pipe)) is None:
                if not _wait_for(self.pipe, select.POLLIN, deadline - time.monotonic()):
                    return None
        except (EOFError, OSError):
            return None
        return message

    async def receive_async(self, timeout: float) -> bytes | None:
        """`receive` on the event loop, woken by the pipe itself: no thread between."""
        frame = Frame(self.message_limit)
        try:
            async with asyncio.timeout(max(timeout, 0)):
                while (message := frame.read(self.pipe)) is None:
                    await _ready_on_loop(self.pipe, for_writing=False)
        except (TimeoutError, EOFError, OSError):
            return None
        return message

    def stop(self) -> None:
        """Kill the process (if it has not exited) and let go of it. Safe to call twice."""
        if self.pidfd < 0:
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        os.close(self.pidfd)
        self.pidfd = -1
        os.close(self.pipe)


class Waiter:
    """A thread or a coroutine in line for a job process; woken from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        self.in_thread = threading.Event()
        self.on_loop = asyncio.Event() if loop is not None else None

    def wake(self) -> None:
        if self.loop is None:
            self.in_thread.set()
        else:
            assert self.on_loop is not None
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody to wake
                self.loop.call_soon_threadsafe(self.on_loop.set)


class ProcessPool:
    """The job processes of one role, for `slots` jobs at once: a zygote, and
    `SPARES_PER_SLOT` warm processes per slot, each handed out for one job and replaced
    after it.

    The pool's thread does every blocking part (spawning the zygote and waiting until it has
    warmed up, asking it for forks, waiting for each process to warm up, replacing a zygote
    that died or stopped answering). Processes are taken in turn, first come first served,
    from a thread (`take`) or on the event loop (`take_async`); `limit` holds a taker back
    while `slots` jobs run, else a process is handed out whenever one is warm. `release` lets
    go of a process after its job and asks for its successor. `state` and `restart_counts`
    are what /healthz, /readyz and /metrics report."""

    def __init__(self, role: Role, slots: int, limit: bool = True) -> None:
        self.role = role
        self.slots = slots
        self.size = slots * SPARES_PER_SLOT
        self.limit = limit
        self.layers: dict[str, str] = {}
        self.zygote: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        # The loop this pool's takers run on, once started: blocking calls refuse to run there.
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()  # held only for counts and queues, never across a wait
        self.wanted = 0  # forks asked for and not yet made
        self.idle: collections.deque[JobProcess] = collections.deque()
        self.waiters: collections.deque[Waiter] = collections.deque()
        self.busy = 0  # processes handed out and not yet released
        self.waiting = 0  # takers in line
        self.started = threading.Event()
        self.delivered = 0
        self.stopping = False
        self.warming: dict[int, JobProcess] = {}
        # Processes replaced, by cause (see `_ask`).
        self.restarts: collections.Counter[str] = collections.Counter()
        self.wake_reader, self.wake_writer = os.pipe()
        os.set_blocking(self.wake_writer, False)
        self.thread = threading.Thread(target=self._serve, name=f"pool {role.name}", daemon=True)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the pool's thread; `loop` is the event loop the pool serves, if any."""
        self.loop = loop
        self.wanted = self.size
        self.thread.start()

    def refuse_on_loop(self, what: str) -> None:
        """Raise if called on the event loop this pool serves: `what` can block for seconds."""
        if self._on_loop():
            raise RuntimeError(f"{what} blocks: call it in a thread, not on the event loop")

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until the first `size` processes are warm."""
        self.refuse_on_loop("waiting for the pool to start")
        if not self.started.wait(timeout):
            raise RuntimeError(f"the {self.role.name} processes did not start")

    def take(self, timeout: float) -> JobProcess | None:
        """A live warm process for one job, from a thread; None if none came in time."""
        self.refuse_on_loop("taking a process (take_async does not)")
        deadline = time.monotonic() + timeout
        waiter = Waiter(None)
        with self.lock:
            process = self._hand_out(waiter, queue=True)
        if process is not None:
            return process
        try:
            while waiter.in_thread.wait(max(deadline - time.monotonic(), 0)):
                waiter.in_thread.clear()
                with self.lock:
                    process = self._hand_out(waiter)
                if process is not None:
                    return process
            return None
        finally:
            self._leave(waiter)

    async def take_async(self, timeout: float) -> JobProcess | None:
        """`take` on the event loop."""
        waiter = Waiter(asyncio.get_running_loop())
        with self.lock:
            process = self._hand_out(waiter, queue=True)
        if process is not None:
            return process
        assert waiter.on_loop is not None
        try:
            async with asyncio.timeout(max(timeout, 0)):
                while True:
                    await waiter.on_loop.wait()
                    waiter.on_loop.clear()
                    with self.lock:
                        process = self._hand_out(waiter)
                    if process is not None:
                        return process
        except TimeoutError:
            return None
        finally:
            self._leave(waiter)

    def release(self, process: JobProcess, end: bool = True) -> None:
        """Let go of a process taken for a job (it has exited after its answer, or is killed
        now) and ask for its successor: forked now, after the job, so it does not compete.
        Not `end`: the process lives on, outside the pool's count, its caller's to stop."""
        if end:
            process.stop()
        cause = process.ended or "completed"
        with self.lock:
            self.busy -= 1
            self._wake_first()
        # On the loop, the successor is asked for when the caller's task next yields to it,
        # which for an answer is once it is written: the fork, walls and warm-up would
        # otherwise take the CPU from the server while it writes the answer.
        if self._on_loop():
            assert self.loop is not None
            self.loop.call_soon(self._ask_for, cause)
        else:
            self._ask_for(cause)

    def state(self) -> dict[str, int]:
        """Jobs running, processes warm, takers in line, and slots."""
        with self.lock:
            return {
                "busy": self.busy,
                "idle": len(self.idle),
                "waiting": self.waiting,
                "slots": self.slots,
            }

    def restart_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.restarts)

    def stop(self) -> None:
        """Stop the thread, the zygote and every process not handed out."""
        self.refuse_on_loop("stopping the pool")
        self.stopping = True
        self._wake()
        if self.thread.ident is not None:
            self.thread.join(10)
        for process in list(self.warming.values()):
            process.stop()
        self._drop_zygote()
        with self.lock:
            idle, self.idle = list(self.idle), collections.deque()
        for process in idle:
            process.stop()

    # Handing out, under the lock ----------------------------------------------------------

    def _hand_out(self, waiter: Waiter, queue: bool = False) -> JobProcess | None:
        """The next live process for `waiter` when it is first in line (or, with `queue`,
        when nobody is), else None; with `queue`, it then joins the line."""
        first = self.waiters[0] if self.waiters else None
        if first is waiter or (queue and first is None):
            while self._can_hand_out():
                process = self.idle.popleft()
                if not process.alive():
                    # Killed while idle (the OOM killer, an operator): not a job's fault.
                    log.warning("an idle %s process had died; replacing it", self.role.name)
                    process.stop()
                    self._ask("died_idle")
                    continue
                self.busy += 1
                if first is waiter:
                    self.waiters.popleft()
                    self._wake_first()  # there may be more for the next in line
                return process
        if queue:
            self.waiters.append(waiter)
            self.waiting += 1
        return None

    def _leave(self, waiter: Waiter) -> None:
        """`waiter` leaves the line, served or not; if it was woken for a process it did not
        take, the next in line is."""
        with self.lock:
            self.waiting -= 1
            if waiter in self.waiters:
                self.waiters.remove(waiter)
                self._wake_first()

    def _can_hand_out(self) -> bool:
        return bool(self.idle) and (not self.limit or self.busy < self.slots)

    def _wake_first(self) -> None:
        if self.waiters and self._can_hand_out():
            self.waiters[0].wake()

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _ask_for(self, cause: str) -> None:
        with self.lock:
            self._ask(cause)

    def _ask(self, cause: str) -> None:
        """One more process, in place of one let go of for `cause`: "completed" (its job is
        done), "timeout", "killed", "died_idle" or "start_failed"."""
        self.wanted += 1
        self.restarts[cause] += 1
        self._wake()

    # The pool's thread --------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.wake_writer, b"x")

    def _serve(self) -> None:
        """The pool's thread: keep a zygote, ask it for forks, hand out warmed processes."""
        selector = selectors.DefaultSelector()
        selector.register(self.wake_reader, selectors.EVENT_READ)
        while not self.stopping:
            try:
                self._fork_wanted(selector)
            except Exception:  # this thread must outlive any zygote's failure
                if self.stopping:
                    break
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
            process = JobProcess(pid, pidfd, pipe, self.role.message_limit)
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
                self._ask("start_failed")
            return
        with self.lock:
            self.idle.append(process)
            self._wake_first()
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
        """Spawn a zygote and wait (in this thread) until it has warmed up, or the pool
        stops."""
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
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        try:
            # Woken by the zygote, or by the server: more processes wanted (forked once it
            # is up) or the pool stopping (given up at once).
            while not self.stopping and time.monotonic() < deadline:
                if parent in wait([parent, self.wake_reader], deadline - time.monotonic()):
                    break
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_reader, 4096)
            if self.stopping:
                raise OSError("the pool is stopping")
            if not parent.poll(0):
                raise OSError(f"the {self.role.name} zygote did not start in time")
            message = parent.recv_bytes()
            if not message.startswith(READY):
                raise OSError(f"the {self.role.name} zygote did not start")
            self.layers = json.loads(message.removeprefix(READY))
            self.control = socket.socket(fileno=os.dup(parent.fileno()))
            self.control.settimeout(FORK_TIMEOUT_S)
        finally:
            parent.close()
        for layer, state in self.layers.items():
            if state != "present":
                log.critical(
                    "sandbox wall of the %s processes: %s is %s", self.role.name, layer, state
                )


if __name__ == "__main__":
    # The zygote: the pool module under its own name, not a second copy as __main__.
    from app.server import pool

    pool.zygote_main(Connection(int(sys.argv[1])), pool.Role(**json.loads(sys.stdin.buffer.read())))
