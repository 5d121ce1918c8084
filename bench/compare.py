"""Before and after a change, in the same run: `python -m bench.compare OLD NEW`.

OLD and NEW are two checkouts of the project (`git worktree add ../old HEAD~1`); each gets
its own server, run with this checkout's packages. The seed-sized programs go to both in
turn, request by request, with torchviz drawing the same program before each request as
`make bench` does, so that both sides meet the same machine: this machine's speed moves by
tens of percent within minutes, which makes two separate runs of `make bench` useless for
telling a 5% change apart.

With `--classroom LEARNERS`, both servers instead get a classroom of that many learners
(`bench.classroom`) at the same time, and the table is each side's CPU per request that ran,
by process: the measure of a change to what a request costs the machine, which a loaded
machine moves less than it moves latencies.
"""

import argparse
import contextlib
import statistics
import threading
from pathlib import Path

import torch

from bench.__main__ import _cpu_by_role, _cpu_per_request
from bench.baseline import torchviz_seconds
from bench.classroom import ClassroomRun, classroom
from bench.load import Client, timed_post, uncached
from bench.programs import SEED_SIZED, Program
from bench.report import table
from bench.server import Server, running_server
from bench.tutorials import FIRST_SEEN

# The RNN's 30 steps would take most of the run for little news.
PROGRAMS = {"seed": SEED_SIZED[:3], "tutorials": FIRST_SEEN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="checkout measured first")
    parser.add_argument("new", type=Path, help="checkout compared with it")
    parser.add_argument("--repeats", type=int, default=25, help="requests per side and program")
    parser.add_argument(
        "--programs",
        choices=sorted(PROGRAMS),
        default="seed",
        help="the seed-sized programs, or one member of each tutorial family",
    )
    parser.add_argument("--classroom", type=int, help="learners per side, both at once")
    parser.add_argument("--seconds", type=float, default=40.0, help="of the classrooms")
    arguments = parser.parse_args()
    torch.set_num_threads(1)  # as in the workers
    with contextlib.ExitStack() as stack:
        old, new = (
            stack.enter_context(running_server(root.resolve()))
            for root in (arguments.old, arguments.new)
        )
        if arguments.classroom:
            _classrooms(old, new, arguments.classroom, arguments.seconds)
            return
        rows = [
            _compare(Client(old.url), Client(new.url), program, arguments.repeats)
            for program in PROGRAMS[arguments.programs]
        ]
    print(table(["program", "old ms", "new ms", "new / old", "torchviz ms"], rows))


def _classrooms(old: Server, new: Server, learners: int, seconds: float) -> None:
    """Both sides under a classroom at once; CPU per request that ran, by process."""
    before = {server: _cpu_by_role(server.pid) for server in (old, new)}
    runs: dict[Server, ClassroomRun] = {}

    def lesson(server: Server) -> None:
        runs[server] = classroom(server.url, learners=learners, seconds=seconds)

    threads = [threading.Thread(target=lesson, args=(server,)) for server in (old, new)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = {
        server: _cpu_per_request(
            before[server],
            _cpu_by_role(server.pid),
            max(runs[server].answered + runs[server].refused, 1),
        )
        for server in (old, new)
    }
    roles = [role for role in cpu[new] if role in cpu[old]]
    rows = [[role, f"{cpu[old][role]:.2f}", f"{cpu[new][role]:.2f}"] for role in roles]
    print(table(["CPU ms per request that ran", "old", "new"], rows))
    for name, server in (("old", old), ("new", new)):
        run = runs[server]
        print(
            f"{name}: {run.requests} requests, {run.answered} answered, {run.refused} refused, "
            f"{run.errors} errors ({run.turned_away} turned away), p50 {run.p50_ms:.0f} ms, "
            f"p99 {run.p99_ms:.0f} ms"
        )


def _compare(old: Client, new: Client, program: Program, repeats: int) -> list[str]:
    """Medians of both sides; the side that goes first alternates."""
    for client in (old, new):  # each worker's first calls of these ops
        for _ in range(2):
            timed_post(client, uncached(program))
    seconds: dict[Client, list[float]] = {old: [], new: []}
    drawings = []
    for repeat in range(repeats):
        for client in (old, new) if repeat % 2 == 0 else (new, old):
            drawings.append(torchviz_seconds(program))
            seconds[client].append(timed_post(client, uncached(program))[0])
    old_ms, new_ms = (1000 * statistics.median(seconds[client]) for client in (old, new))
    torchviz_ms = 1000 * statistics.median(drawings)
    return [
        program.name,
        f"{old_ms:.1f}",
        f"{new_ms:.1f}",
        f"{new_ms / old_ms:.3f}",
        f"{torchviz_ms:.1f}",
    ]


if __name__ == "__main__":
    main()
