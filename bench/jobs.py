"""`python -m bench.jobs`: where a classroom job process's CPU goes, measured in one process.

It becomes an evaluation zygote (warms torch, takes the walls, huge pages), then forks one
job process per classroom program (`bench.classroom`'s mix) as the pool does, and reads each
child's CPU and minor page faults at every step: after the fork, the walls, the warm-up
(with and without the prefault, alternating, so that both meet the same machine), the job to
its answer, the gradient check, and the exit (the CPU the kernel charges the child after its
last line: tearing its address space down). `--profile FILE` writes a cProfile of the jobs'
Python work (counted in CPU time, not wall time, so that other work on the machine does not
show) for `python -m pstats FILE`; it runs without the walls, which forbid writing files.
"""

import argparse
import cProfile
import gc
import itertools
import json
import marshal
import os
import pstats
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from app.contract.replies import MAKE_EXTRAS
from app.contract.settings import Settings
from app.server import pool, wall
from app.worker.entry import Evaluator, prepare_evaluator
from bench.classroom import _body
from bench.report import table

STEPS = ("fork", "to first line", "walls", "warm-up", "to answer", "gradient check", "exit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=30, help="classroom programs")
    parser.add_argument("--profile", type=Path, help="write the jobs' cProfile here")
    arguments = parser.parse_args()
    evaluator = prepare_evaluator(Settings().model_dump_json())
    profile = arguments.profile
    if profile is None:
        wall.enclose_zygote()
    gc.freeze()
    pool._collapse_into_huge_pages()
    rng = random.Random(2024)
    jobs = [json.dumps(_body(rng)).encode() for _ in range(arguments.programs)]
    lives: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    stats: list[bytes] = []
    for index, job in enumerate(jobs):
        for prefault in (index % 2 == 0, index % 2 == 1):
            life, stat = _life(job, evaluator, prefault, walls=profile is None, profile=profile)
            lives[prefault].append(life)
            stats.extend([stat] if stat else [])
    for prefault, rows in lives.items():
        print(f"\nprefault {'on' if prefault else 'off'}, medians of {len(rows)} jobs:")
        print(table(["step", "CPU ms", "of it system ms", "minor faults"], _rows(rows)))
        bytes_sent = statistics.median(row["bytes"] for row in rows)
        print(f"answer and extras: {bytes_sent:,.0f} bytes of JSON (median)")
    if profile is not None:
        _write_profile(stats, profile)


def _rows(rows: list[dict[str, float]]) -> list[list[str]]:
    def median(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    def line(label: str, step: str) -> list[str]:
        cpu, system = (f"{1000 * median(f'{step} {key}'):.1f}" for key in ("cpu", "sys"))
        return [label, cpu, system, f"{median(f'{step} faults'):.0f}"]

    return [*(line(step, step) for step in STEPS), line("whole life (fork to reaped)", "life")]


def _usage() -> tuple[float, float, int]:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime, used.ru_stime, used.ru_minflt


def _life(
    job: bytes, evaluator: Evaluator, prefault: bool, walls: bool, profile: Path | None
) -> tuple[dict[str, float], bytes]:
    reader, writer = os.pipe()
    started = _usage()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        marks = [_usage()]
        if walls:
            wall.enclose_job()
        marks.append(_usage())
        sent: list[bytes] = []
        profiler = cProfile.Profile(time.process_time) if profile else None

        def send(message: bytes) -> None:
            sent.append(message)
            if len(sent) == 2:  # the details, after the shape: the answer can go out
                marks.append(_usage())

        def warm_then_run() -> None:  # as the pool runs them, in the job's thread
            Evaluator(evaluator.settings.model_copy(update={"prefault_jobs": prefault})).warm()
            marks.append(_usage())
            if profiler:
                profiler.enable()
            sent.append(evaluator.run(job, send, lambda: MAKE_EXTRAS))  # extras asked at once
            if profiler:
                profiler.disable()
                profiler.create_stats()
            marks.append(_usage())

        pool.in_own_arena(warm_then_run)
        if len(marks) == 4:  # a failed job: one reply, no separate answer
            marks.insert(3, marks[3])
        head = json.dumps({"marks": marks, "bytes": sum(map(len, sent))}).encode()
        data = head + b"\0" + (marshal.dumps(profiler.stats) if profiler else b"")
        view = memoryview(data)
        while view:
            view = view[os.write(writer, view) :]
        os._exit(0)
    forked = _usage()
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 1 << 20):
        chunks.append(chunk)
    _, _, used = os.wait4(pid, 0)
    os.close(reader)
    head, _, stat = b"".join(chunks).partition(b"\0")
    report = json.loads(head)
    child = (used.ru_utime + used.ru_stime, used.ru_stime, used.ru_minflt)
    marks = [(0.0, 0.0, 0), *report["marks"], child]
    life = {"bytes": float(report["bytes"])}
    life.update(_step("fork", started, forked))
    for step, (before, after) in zip(STEPS[1:], itertools.pairwise(marks), strict=True):
        life.update(_step(step, before, after))
    life.update(_step("life", (0.0, 0.0, 0), child))
    life["life cpu"] += life["fork cpu"]
    return life, stat


def _step(
    name: str, before: tuple[float, float, int], after: tuple[float, float, int]
) -> dict[str, float]:
    return {
        f"{name} cpu": after[0] - before[0],
        f"{name} sys": after[1] - before[1],
        f"{name} faults": float(after[2] - before[2]),
    }


def _write_profile(stats: list[bytes], path: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        files = []
        for index, stat in enumerate(stats):
            file = Path(directory) / f"{index}.prof"
            file.write_bytes(stat)
            files.append(str(file))
        pstats.Stats(*files).dump_stats(path)
    print(f"\ncProfile of {len(stats)} jobs written to {path}")


if __name__ == "__main__":
    main()
