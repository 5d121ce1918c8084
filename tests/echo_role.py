"""A test-only kind of job process: it answers its job with the job itself.

Its zygote can be made slow to start (`config`: seconds to sleep while it prepares), like
the evaluation zygote warming torch, but without the CPU: the pool's tests then see what the
server does while a zygote starts, cheaply. As with `tests/security/wall_probe.py`, no
request can reach it: the server's pools are built with the evaluation and layout roles only.
"""

import ctypes
import time
from collections.abc import Callable

CRASH = b"crash"  # a job that ends its process as a fault in native code would


def prepare_echo(delay_s: str) -> "Echo":
    time.sleep(float(delay_s or 0))
    return Echo()


class Echo:
    def warm(self) -> None:
        pass

    def run(self, job: bytes, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> bytes:
        if job == CRASH:
            ctypes.string_at(0)  # a read of address 0: SIGSEGV
        return job
