"""The second wall: what the kernel refuses a process that runs a user's program or lays out
a user's graph, whatever the allowlist interpreter let through.

PyTorch's native kernels trust tensor metadata, so an allowed call can become a read or
write anywhere in the process. These layers bound what such a process can then do:

- `network_namespace`: a network namespace of its own with no interfaces (no route out);
  as an ordinary user, inside a user namespace of its own, which is what lets it make one.
- `unprivileged_uid`: uid and gid 65534 (nobody) with no supplementary groups and no
  capabilities; as an ordinary user the process keeps that user's uid, without capabilities.
- `no_new_privs`: no set-uid binary or file capability can give privileges back.
- `landlock`: no file or directory may be written, created, renamed or removed, anywhere;
  each job is a Landlock domain of its own, so it cannot ptrace or signal its siblings or
  the zygote that forked it.
- `seccomp`: a libseccomp filter (`DENIED` below) refuses program execution, new sockets,
  opening files for writing, changing the file system, ptrace and reading other processes'
  memory, System V IPC, changing another process's limits, priority or CPUs, namespaces and
  mounts, and kernel facilities a job has no use for.

The filter is a careful denylist, not an allowlist: a job runs CPython, PyTorch (oneDNN,
OpenMP) and libgvc, whose system calls change from one version to the next; an allowlist
that missed one would fail jobs only in production. What a denylist leaves allowed (reading
files, memory management, threads, pipes already open) is what a process that computes
needs, and reading files is what an attacker gains least from: the jobs hold no secrets,
and the server's are not in their files (see docs/security.md).
"""

import ctypes
import errno
import functools
import os
import resource
from collections.abc import Iterable

import pyseccomp as seccomp

LAYERS = ("seccomp", "no_new_privs", "network_namespace", "unprivileged_uid", "landlock")
NOBODY = 65534
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
# Landlock (linux/landlock.h): every right that changes the file system; reading is left
# to the other layers. Rights the running kernel does not know are dropped by its ABI.
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_WRITE_RIGHTS_BY_ABI = (
    (1, 0x1FF2),  # write, remove file/dir, make char/dir/reg/sock/fifo/block/sym
    (2, 0x2000),  # refer (link or rename across directories)
    (3, 0x4000),  # truncate
)
LANDLOCK_EXECUTE = 0x1
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 0x1
LANDLOCK_SCOPE_SIGNAL = 0x2
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_RESTRICT_SELF = 446
SYS_CAPSET = 126
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# System calls no job makes. EPERM for each: the program (or an exploit) sees a refusal.
DENIED = (
    # running programs
    "execve", "execveat",
    # the network and other processes' sockets (pipes and socketpairs made before stay)
    "socket", "connect", "bind", "listen", "accept", "accept4",
    # changing the file system (opening for writing is refused by its flags, below)
    "creat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
    "rmdir", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate", "mknod", "mknodat",
    "open_by_handle_at", "name_to_handle_at", "memfd_create", "memfd_secret",
    # other processes' memory and state
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "process_madvise", "move_pages", "migrate_pages", "get_robust_list",
    # System V IPC: memory and messages that outlive the job, shared by every process of the
    # machine's IPC namespace (POSIX queues and shared memory need files, which Landlock and
    # the open rules refuse)
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    # namespaces, mounts, identity
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset",
    # kernel facilities a job has no use for, each with a history of privilege escalations
    "bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "keyctl", "add_key", "request_key", "userfaultfd",
    "personality", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "fanotify_init", "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog",
    "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "vhangup", "iopl", "ioperm", "lookup_dcookie", "uselib", "ustat", "sysfs",
)  # fmt: skip
# Calls that act on a process named by an argument (its position here): allowed only on the
# caller itself (0). Every job and the zygote share one unprivileged uid, so the kernel would
# let a job lower the zygote's or another job's limits, priority or CPUs.
ON_SELF_ONLY = {
    "prlimit64": 0,
    "setpriority": 1,
    "sched_setaffinity": 0,
    "sched_setattr": 0,
    "sched_setscheduler": 0,
    "sched_setparam": 0,
    "ioprio_set": 1,
}
# Only a job process's own filter: the zygote needs these to make each job's process.
# (`clone` without CLONE_THREAD, a new process, is refused by its flags below.)
DENIED_TO_JOBS = ("socketpair", "fork", "vfork")
CLONE_THREAD = 0x10000
# Opening with any of these is opening for writing or creating.
WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)


# The job processes' compiled filter, once the zygote has made it (see enclose_zygote).
_JOB_FILTER: list[bytes] = []
_JOB_LANDLOCK: list[bool] = []
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class WallError(OSError):
    """A layer the kernel refused."""


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise WallError(code, f"{what}: {os.strerror(code)}")
    return result


def enter_namespaces() -> dict[str, str]:
    """A network namespace of its own, for a zygote and every job it forks; as an ordinary
    user inside a user namespace, which must be entered while the process has one thread.
    Returns the layer's state, as `enclose_zygote` does."""
    flags = CLONE_NEWNET if os.getuid() == 0 else CLONE_NEWNET | CLONE_NEWUSER
    try:
        _check(_libc().unshare(flags), "unshare")
    except OSError as error:
        return {"network_namespace": f"missing: {error}"}
    return {"network_namespace": "present"}


def enclose_zygote() -> dict[str, str]:
    """Layers a zygote takes once, after it warmed up, for itself and every job it forks: an
    unprivileged uid, no_new_privs, no writes (Landlock), and a first filter. Returns each
    layer's state ("present", or why it is missing); a zygote whose layer failed still
    serves, and the server decides whether a weakened wall may listen beyond loopback."""
    state: dict[str, str] = {}
    libc = _libc()
    try:
        _drop_identity()
        state["unprivileged_uid"] = "present"
    except OSError as error:
        state["unprivileged_uid"] = f"missing: {error}"
    try:
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        state["no_new_privs"] = "present"
    except OSError as error:
        state["no_new_privs"] = f"missing: {error}"
    state["landlock"] = _landlock_state()
    _JOB_LANDLOCK[:] = [True] if state["landlock"] == "present" else []
    try:
        _JOB_FILTER[:] = [_compile_job_filter()]
        _seccomp(DENIED)
        state["seccomp"] = "present"
    except (OSError, ImportError, RuntimeError, ValueError) as error:
        state["seccomp"] = f"missing: {error}"
    return state


def enclose_job() -> None:
    """Layers each job's process takes right after the fork: its own Landlock domain (no
    writes, no signals or ptrace beyond itself), not dumpable (its /proc files are not
    readable by its siblings), a second filter that also forbids making processes and
    socketpairs, and no files larger than nothing. Layers the zygote found missing are
    skipped; any other failure raises, and the job process is not used."""
    libc = _libc()
    _check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(DUMPABLE)")
    if _JOB_LANDLOCK:
        _landlock_restrict(libc)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if _JOB_FILTER:
        _load_compiled(_JOB_FILTER[0])


def _drop_identity() -> None:
    """As root: no supplementary groups, gid and uid nobody (which clears every capability).
    As an ordinary user in a new user namespace: no capabilities in it either."""
    if os.getuid() == 0 and os.geteuid() == 0 and _in_first_user_namespace():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        return
    _drop_capabilities()


def _in_first_user_namespace() -> bool:
    """True unless this process made a user namespace (where it has no uid yet)."""
    try:
        with open("/proc/self/uid_map", encoding="ascii") as uid_map:
            return uid_map.read().split()[:3] == ["0", "0", "4294967295"]
    except OSError:
        return True


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _drop_capabilities() -> None:
    """capset with empty sets: the creator of a user namespace holds every capability in it."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc().syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")


class _LandlockRuleset(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


def _landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock."""
    libc = _libc()
    version: int = libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(version, 0)


def _landlock_state() -> str:
    abi = _landlock_abi()
    if abi == 0:
        return "missing: the kernel has no Landlock (or it is not enabled at boot)"
    try:
        _landlock_restrict(_libc())
    except OSError as error:
        return f"missing: {error}"
    return "present"


def _landlock_restrict(libc: ctypes.CDLL) -> None:
    """A domain that handles every write right and grants none: no writes anywhere. Scoped
    (ABI 6) so signals and abstract sockets cannot leave it."""
    abi = _landlock_abi()
    handled = LANDLOCK_EXECUTE
    for version, rights in LANDLOCK_WRITE_RIGHTS_BY_ABI:
        if abi >= version:
            handled |= rights
    scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL if abi >= 6 else 0
    ruleset = _LandlockRuleset(handled, 0, scoped)
    size = ctypes.sizeof(_LandlockRuleset) if abi >= 6 else 16
    descriptor = _check(
        libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(ruleset), ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    try:
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        _check(libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, descriptor, 0), "landlock_restrict_self")
    finally:
        os.close(descriptor)


def _seccomp(denied: Iterable[str]) -> None:
    _rules(denied, threads_only=False).load()


def _rules(denied: Iterable[str], threads_only: bool) -> "seccomp.SyscallFilter":
    """A filter that allows everything but `denied` and opening for writing; with
    `threads_only`, `clone` may make threads but no process."""
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in denied:
        try:
            rules.add_rule(refuse, name)
        except (OSError, RuntimeError, ValueError):  # a name this kernel's arch lacks
            continue
    for name, target in ON_SELF_ONLY.items():
        rules.add_rule(refuse, name, seccomp.Arg(target, seccomp.NE, 0))
    for name, flags_argument in (("open", 1), ("openat", 2)):
        for flag in WRITE_FLAGS:
            rules.add_rule(
                seccomp.ERRNO(errno.EACCES),
                name,
                seccomp.Arg(flags_argument, seccomp.MASKED_EQ, flag, flag),
            )
    # openat2's flags are in a structure a filter cannot read: refused whole, as a kernel
    # without it would (callers fall back to openat).
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "openat2")
    if threads_only:
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
        # clone3's flags are in a structure too: without it, threads are made by clone.
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


class _SockFprog(ctypes.Structure):
    _fields_ = (("length", ctypes.c_ushort), ("program", ctypes.c_char_p))


def _compile_job_filter() -> bytes:
    """The job processes' filter as libseccomp compiles it (BPF), made once in the zygote
    rather than in every job process."""
    reader, writer = os.pipe()
    try:
        with os.fdopen(writer, "wb", closefd=False) as pipe:
            _rules(DENIED + DENIED_TO_JOBS, threads_only=True).export_bpf(pipe)
        os.close(writer)
        writer = -1
        chunks = []
        while chunk := os.read(reader, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)


def _load_compiled(program: bytes) -> None:
    prog = _SockFprog(len(program) // 8, program)
    _check(
        _libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "prctl(SECCOMP)",
    )
