"""`python -m bench.fork`: what a job process of its own costs, measured in one process.

It becomes an evaluation zygote (imports and warms torch, takes the walls, huge pages), then
forks job processes as the pool does and times each step: the fork in the zygote, the walls
in the child, the prefault, a seed-sized job (to its answer, and with its gradient check,
which comes after the answer), and the whole life (fork to reaped, CPU of
both sides). The same job in the warm zygote itself is what a long-lived worker paid.
"""

import gc
import os
import statistics
import time

from app.contract.schemas import GraphRequest
from app.contract.settings import Settings
from app.server import pool, wall
from app.worker.entry import Evaluator, prepare_evaluator
from app.worker.evaluate import evaluate, evaluate_parts
from bench.programs import SEED_SIZED

REPEATS = 15


def main() -> None:
    settings = Settings()
    evaluator = prepare_evaluator(settings.model_dump_json())
    layers = wall.enclose_zygote()
    gc.freeze()
    pool._collapse_into_huge_pages()
    print("layers:", ", ".join(f"{k} {v}" for k, v in layers.items()))
    for program in SEED_SIZED[:3]:
        request = GraphRequest(code=f"{program.code}\n# fork", output=program.output)
        # The job processes first: once the zygote itself has run a program, its forks
        # inherit the guard's remembered sizes of that program's operations, which a job
        # process on the server never has for a program the warm-up did not meet.
        lives = {
            prefault: [_life(request, evaluator, prefault) for _ in range(REPEATS)]
            for prefault in (False, True)
        }
        started = time.process_time()
        for _ in range(REPEATS):
            evaluate(request, settings.limits)
        warm = 1000 * (time.process_time() - started) / REPEATS
        print(f"\n{program.name}: the job in a warm long-lived process, {warm:.1f} ms CPU")
        for prefault, rows in lives.items():
            medians = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
            print(
                f"  prefault {'on ' if prefault else 'off'}: fork in the zygote "
                f"{medians['fork_cpu']:.1f} ms CPU ({medians['fork_wall']:.1f} ms wall), walls "
                f"{medians['walls']:.1f} ms, prefault {medians['prefault']:.1f} ms, job "
                f"{medians['core']:.1f} ms CPU to its answer, {medians['job']:.1f} ms with its "
                f"gradient check; whole life {medians['life_cpu']:.1f} ms CPU, "
                f"fork to ready {medians['ready_wall']:.1f} ms wall"
            )


def _life(request: GraphRequest, evaluator: Evaluator, prefault: bool) -> dict[str, float]:
    settings = evaluator.settings
    reader, writer = os.pipe()
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        began = time.process_time()
        wall.enclose_job()
        walled = time.process_time()
        marks: list[float] = []

        def warm_then_run() -> None:  # as the pool runs them, in the job's thread
            Evaluator(settings.model_copy(update={"prefault_jobs": prefault})).warm()
            marks.extend((time.perf_counter(), time.process_time()))
            evaluate_parts(
                request, settings.limits, on_core=lambda _: marks.append(time.process_time())
            )
            marks.append(time.process_time())

        pool.in_own_arena(warm_then_run)
        ready, prefaulted, answered, done = marks
        times = (
            walled - began,
            prefaulted - walled,
            answered - prefaulted,
            done - prefaulted,
            ready - started_wall,
        )
        os.write(writer, " ".join(map(str, times)).encode())
        os._exit(0)
    fork_cpu = time.process_time() - started_cpu
    fork_wall = time.perf_counter() - started_wall
    os.close(writer)
    _, _, usage = os.wait4(pid, 0)
    walls, prefaulted, core, job, ready = map(float, os.read(reader, 200).split())
    os.close(reader)
    life = fork_cpu + usage.ru_utime + usage.ru_stime
    return {
        key: 1000 * value
        for key, value in {
            "fork_cpu": fork_cpu,
            "fork_wall": fork_wall,
            "walls": walls,
            "prefault": prefaulted,
            "core": core,
            "job": job,
            "life_cpu": life,
            "ready_wall": ready,
        }.items()
    }


if __name__ == "__main__":
    main()
