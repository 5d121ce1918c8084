"""`python -m bench`: every speed goal, measured in one run.

Timings on a shared machine are noisy, so each figure is a median of repeated runs and every
comparison with torchviz is made in the same run, interleaved request by request.
"""

import argparse
import itertools
import json
import random
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.baseline import torchviz_seconds
from bench.classroom import PERIOD_S, SECONDS, ClassroomRun, classroom
from bench.load import Client, Throughput, throughput, timed_post, uncached
from bench.programs import HUB_LOOPS, MODELS, RNN_STEPS, SEED_SIZED, TORCHVIZ_RUNS, Program, rnn
from bench.report import goals, save, table
from bench.server import (
    children,
    cpu_seconds,
    memory_mb,
    processes_by_role,
    reaped_cpu_seconds,
    running_server,
)
from bench.tutorials import FAMILIES, FIRST_SEEN, mlp

REPEATS = 15
# Never-seen members of each tutorial family whose first request is timed (seeds no other
# part of the bench uses).
FIRST_SEEN_SEEDS = range(100, 103)
GRADCHECK_REPEATS = 5
RNN_REPEATS = {100: 5, 1000: 3}
DRAWING_REPEATS = 5
CLIENTS = 8
LOAD_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "part",
        nargs="?",
        choices=("all", "drawings"),
        default="all",
        help="`drawings`: only the hub loops and models, a minute instead of several",
    )
    part = parser.parse_args().part
    torch.set_num_threads(1)  # as in the workers: one thread each on a 2-core machine
    results: dict[str, Any] = {"graphviz": _graphviz_version(), "repeats": REPEATS}
    with running_server() as server:
        client = Client(server.url)
        for program in SEED_SIZED:  # warm every worker's first calls of these ops
            for _ in range(2):
                timed_post(client, uncached(program))
        results["drawings"] = [_drawing(client, program) for program in HUB_LOOPS + MODELS]
        if part == "drawings":
            client.close()
            _print_drawings(results["drawings"])
            return
        results["first_seen"] = [_first_seen(client, family) for family in FAMILIES]
        results["seed_sized"] = [_versus_torchviz(client, program) for program in SEED_SIZED]
        results["tutorial_sized"] = [_versus_torchviz(client, program) for program in FIRST_SEEN]
        results["gradcheck_panel"] = _gradcheck_panel(client, server.url)
        results["rnn"] = [_rnn(client, steps) for steps in RNN_STEPS]
        seed = SEED_SIZED[:2]
        turns = itertools.count()
        before = _cpu_by_role(server.pid)
        load = throughput(
            server.url, lambda: uncached(seed[next(turns) % len(seed)]), CLIENTS, LOAD_SECONDS
        )
        results["throughput_uncached"] = _load(load)
        results["cpu_ms_per_request"] = _cpu_per_request(
            before, _cpu_by_role(server.pid), load.requests
        )
        same = uncached(seed[0])
        timed_post(client, same)
        results["throughput_cached"] = _load(
            throughput(server.url, lambda: same, CLIENTS, LOAD_SECONDS / 2)
        )
        before = _cpu_by_role(server.pid)
        lesson = classroom(server.url)
        results["classroom"] = _classroom(lesson)
        # Per request that ran (answered or refused): one turned away with 503 costs little.
        results["classroom_cpu_ms_per_request"] = _cpu_per_request(
            before, _cpu_by_role(server.pid), max(lesson.answered + lesson.refused, 1)
        )
        results["memory_mb"] = {
            role: [memory for memory in map(memory_mb, pids) if memory]
            for role, pids in processes_by_role(server.pid).items()
        }
        client.close()
    _print(results)
    print(f"\nresults: {save(results)}")


def _versus_torchviz(client: Client, program: Program) -> dict[str, Any]:
    ours, theirs, nodes = [], [], 0
    for _ in range(REPEATS):
        theirs.append(torchviz_seconds(program))
        elapsed, answer = timed_post(client, uncached(program))
        ours.append(elapsed)
        nodes = len(answer["nodes"])
    ours_ms = 1000 * statistics.median(ours)
    theirs_ms = 1000 * statistics.median(theirs)
    return {
        "program": program.name,
        "nodes": nodes,
        "ours_ms": round(ours_ms, 1),
        "torchviz_ms": round(theirs_ms, 1),
        "ratio": round(ours_ms / theirs_ms, 3),
    }


def _first_seen(client: Client, family: Callable[[random.Random], Program]) -> dict[str, Any]:
    """The first request of programs the server never ran: each a new member of the family
    (its own sizes and constants), so no job process inherits their exact calls' sizes."""
    times, nodes = [], 0
    for seed in FIRST_SEEN_SEEDS:
        program = family(random.Random(seed))
        elapsed, answer = timed_post(client, uncached(program))
        times.append(1000 * elapsed)
        nodes = len(answer["nodes"])
    return {
        "family": program.name,
        "nodes": nodes,
        "ms": [round(t, 1) for t in times],
        "median_ms": round(statistics.median(times), 1),
    }


def _gradcheck_panel(client: Client, url: str) -> dict[str, Any]:
    """From pressing Run on the 3-layer MLP to its gradient check in hand, as the page does:
    the answer, then GET of its `extras`."""
    times = []
    for seed in range(GRADCHECK_REPEATS):
        start = time.perf_counter()
        _, answer = timed_post(client, uncached(mlp(random.Random(seed))))
        status, body = client.get(answer["extras"])
        times.append(1000 * (time.perf_counter() - start))
        if status != 200 or json.loads(body)["gradcheck"] is None:
            raise RuntimeError(f"no gradient check: status {status}: {body[:300]!r}")
    return {"ms": [round(t, 1) for t in times], "max_ms": round(max(times), 1)}


def _classroom(run: ClassroomRun) -> dict[str, Any]:
    return {
        "learners": run.learners,
        "requests": run.requests,
        "rate": round(run.rate, 1),
        "answered": run.answered,
        "refused": run.refused,
        "errors": run.errors,
        "turned_away_503": run.turned_away,
        "p50_ms": round(run.p50_ms, 1),
        "p99_ms": round(run.p99_ms, 1),
        "max_ms": round(run.max_ms, 1),
    }


def _drawing(client: Client, program: Program) -> dict[str, Any]:
    """Median seconds to the answer, how it was drawn, and torchviz's time where it runs."""
    timed_post(client, uncached(program))  # a worker's first calls of these ops
    ours, theirs = [], []
    answer: dict[str, Any] = {}
    for _ in range(DRAWING_REPEATS):
        if program.name in TORCHVIZ_RUNS:
            theirs.append(torchviz_seconds(program))
        elapsed, answer = timed_post(client, uncached(program))
        ours.append(elapsed)
    placed = 'layout="nop2"' in answer["dot"].split("\n", 2)[1]
    fallback = any("quicker, plainer" in warning for warning in answer["warnings"])
    ours_s = statistics.median(ours)
    theirs_s = statistics.median(theirs) if theirs else None
    return {
        "program": program.name,
        "nodes": len(answer["nodes"]),
        "boxes": answer["svg"].count('class="node') if answer["svg"] else 0,
        "median_s": round(ours_s, 3),
        "drawn_by": "placed (nop2)" if placed or fallback else "dot",
        "svg": answer["svg"] is not None,
        "torchviz_s": round(theirs_s, 3) if theirs_s else None,
        "ratio": round(ours_s / theirs_s, 3) if theirs_s else None,
    }


def _print_drawings(rows: list[dict[str, Any]]) -> None:
    print(
        f"\nHub loops and models, uncached, median of {DRAWING_REPEATS} (torchviz where it runs):"
    )
    cells = [
        [
            r["program"],
            r["nodes"],
            r["boxes"],
            f"{r['median_s']} s",
            r["drawn_by"] if r["svg"] else "no drawing",
            f"{r['torchviz_s']} s" if r["torchviz_s"] else "minutes, not run",
            r["ratio"] or "",
        ]
        for r in rows
    ]
    print(table(["program", "nodes", "boxes", "ours", "drawn by", "torchviz", "ratio"], cells))


def _rnn(client: Client, steps: int) -> dict[str, Any]:
    program = Program(f"RNN, {steps} steps", rnn(steps), "loss")
    runs = [timed_post(client, uncached(program)) for _ in range(RNN_REPEATS[steps])]
    answer = runs[-1][1]
    return {
        "steps": steps,
        "nodes": len(answer["nodes"]),
        "median_s": round(statistics.median(elapsed for elapsed, _ in runs), 3),
        "svg": answer["svg"] is not None,
        "svg_kb": len(answer["svg"] or "") // 1024,
        "json_kb": len(json.dumps(answer)) // 1024,
        "all_grads": all(node["grad"] is not None for node in answer["nodes"]),
        "warnings": answer["warnings"],
    }


def _cpu_by_role(pid: int) -> dict[str, float]:
    """CPU seconds so far: the server's, each zygote's, and its job processes' (those it has
    reaped and those alive)."""
    cpu = {"server": cpu_seconds(pid)}
    for zygote in children(pid):
        role = "evaluation" if "libtorch" in Path(f"/proc/{zygote}/maps").read_text() else "layout"
        cpu[f"{role} zygote"] = cpu_seconds(zygote)
        alive = sum(cpu_seconds(job) for job in children(zygote))
        cpu[f"{role} job processes"] = reaped_cpu_seconds(zygote) + alive
    return cpu


def _cpu_per_request(
    before: dict[str, float], after: dict[str, float], requests: int
) -> dict[str, float]:
    """Milliseconds of CPU per request by role (a job process's whole life: fork, walls,
    prefault, job, exit)."""
    return {
        role: round(1000 * (after[role] - before.get(role, 0.0)) / requests, 2) for role in after
    }


def _load(result: Throughput) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "errors": result.errors,
        "rate": round(result.rate, 1),
        "p50_ms": round(result.p50_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
    }


def _graphviz_version() -> str:
    completed = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=False)
    return completed.stderr.strip()


def _print(results: dict[str, Any]) -> None:
    print(f"\nPrograms up to 50 nodes, uncached over HTTP vs torchviz, median of {REPEATS}:")
    rows = [
        [r["program"], r["nodes"], f"{r['ours_ms']} ms", f"{r['torchviz_ms']} ms", r["ratio"]]
        for r in results["seed_sized"] + results["tutorial_sized"]
    ]
    print(table(["program", "nodes", "ours", "torchviz", "ratio"], rows))
    print("\nFirst request of a program never run before (a new member of each family):")
    rows = [
        [r["family"], r["nodes"], " ".join(map(str, r["ms"])), r["median_ms"]]
        for r in results["first_seen"]
    ]
    print(table(["family", "nodes", "each ms", "median ms"], rows))
    panel = results["gradcheck_panel"]
    print(f"\nGradient check of the 3-layer MLP in hand (answer + extras): {panel['ms']} ms")
    print("\nRNN with one shared W, uncached (torchviz: over 120 s at 100 steps, not run):")
    rows = [
        [r["steps"], r["nodes"], f"{r['median_s']} s", r["svg"], r["svg_kb"], r["json_kb"]]
        for r in results["rnn"]
    ]
    print(table(["steps", "nodes", "median", "svg", "svg KB", "json KB"], rows))
    _print_drawings(results["drawings"])
    print(f"\nThroughput, {CLIENTS} concurrent clients:")
    rows = [
        [kind, r["requests"], r["rate"], r["p50_ms"], r["p99_ms"], r["errors"]]
        for kind in ("uncached", "cached")
        for r in (results[f"throughput_{kind}"],)
    ]
    print(table(["requests", "count", "per s", "p50 ms", "p99 ms", "errors"], rows))
    print("\nCPU per uncached request under load, by process (where the time goes):")
    print(table(["process", "ms"], [[k, v] for k, v in results["cpu_ms_per_request"].items()]))
    lesson = results["classroom"]
    print(
        f"\nA classroom: {lesson['learners']} learners, Run every {PERIOD_S:g} s each, "
        f"{SECONDS:g} s, unique programs:"
    )
    keys = ["requests", "rate", "answered", "refused", "errors", "turned_away_503"]
    keys += ["p50_ms", "p99_ms", "max_ms"]
    print(table(keys, [[lesson[key] for key in keys]]))
    print("\nCPU per classroom request that ran (answered or refused), by process:")
    rows = [[k, v] for k, v in results["classroom_cpu_ms_per_request"].items()]
    print(table(["process", "ms"], rows))
    print("\nMemory (MB, resident now / peak):")
    rows = [
        [role, " ".join(f"{p['rss_mb']}/{p['peak_rss_mb']}" for p in processes)]
        for role, processes in results["memory_mb"].items()
    ]
    print(table(["process", "each"], rows))
    verdicts = goals(results)
    results["goals"] = {goal: met for goal, met in verdicts}
    print("\nGoals:")
    print(table(["goal", "met"], [[goal, "yes" if met else "NO"] for goal, met in verdicts]))


if __name__ == "__main__":
    main()
