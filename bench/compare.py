"""Before and after a change, in the same run: `python -m bench.compare OLD NEW`.

OLD and NEW are two checkouts of the project (`git worktree add ../old HEAD~1`); each gets
its own server, run with this checkout's packages. The seed-sized programs go to both in
turn, request by request, with torchviz drawing the same program before each request as
`make bench` does, so that both sides meet the same machine: this machine's speed moves by
tens of percent within minutes, which makes two separate runs of `make bench` useless for
telling a 5% change apart.
"""

import argparse
import contextlib
import statistics
from pathlib import Path

import torch

from bench.baseline import torchviz_seconds
from bench.load import Client, timed_post, uncached
from bench.programs import SEED_SIZED, Program
from bench.report import table
from bench.server import running_server

PROGRAMS = SEED_SIZED[:3]  # the RNN's 30 steps would take most of the run for little news


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="checkout measured first")
    parser.add_argument("new", type=Path, help="checkout compared with it")
    parser.add_argument("--repeats", type=int, default=25, help="requests per side and program")
    arguments = parser.parse_args()
    torch.set_num_threads(1)  # as in the workers
    with contextlib.ExitStack() as stack:
        old, new = (
            Client(stack.enter_context(running_server(root.resolve())).url)
            for root in (arguments.old, arguments.new)
        )
        rows = [_compare(old, new, program, arguments.repeats) for program in PROGRAMS]
    print(table(["program", "old ms", "new ms", "new / old", "torchviz ms"], rows))


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
