"""`python -m bench`: every goal of the benchmark, measured in one run.

Timings on a shared machine are noisy, so each figure is a median of repeated runs and every
comparison with torchviz is made in the same run, interleaved request by request.
"""

import itertools
import json
import statistics
import subprocess
from pathlib import Path
from typing import Any

import torch

from bench.baseline import torchviz_seconds
from bench.load import Client, Throughput, throughput, timed_post, uncached
from bench.programs import RNN_STEPS, SEED_SIZED, Program, rnn
from bench.report import goals, save, table
from bench.server import (
    children,
    cpu_seconds,
    memory_mb,
    processes_by_role,
    reaped_cpu_seconds,
    running_server,
)

REPEATS = 15
RNN_REPEATS = {100: 5, 1000: 3}
CLIENTS = 8
LOAD_SECONDS = 10.0


def main() -> None:
    torch.set_num_threads(1)  # as in the workers: one thread each on a 2-core machine
    results: dict[str, Any] = {"graphviz": _graphviz_version(), "repeats": REPEATS}
    with running_server() as server:
        client = Client(server.url)
        for program in SEED_SIZED:  # warm every worker's first calls of these ops
            for _ in range(2):
                timed_post(client, uncached(program))
        results["seed_sized"] = [_versus_torchviz(client, program) for program in SEED_SIZED]
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
    print(f"\nSeed-sized programs, uncached over HTTP vs torchviz, median of {REPEATS}:")
    rows = [
        [r["program"], r["nodes"], f"{r['ours_ms']} ms", f"{r['torchviz_ms']} ms", r["ratio"]]
        for r in results["seed_sized"]
    ]
    print(table(["program", "nodes", "ours", "torchviz", "ratio"], rows))
    print("\nRNN with one shared W, uncached (torchviz: over 120 s at 100 steps, not run):")
    rows = [
        [r["steps"], r["nodes"], f"{r['median_s']} s", r["svg"], r["svg_kb"], r["json_kb"]]
        for r in results["rnn"]
    ]
    print(table(["steps", "nodes", "median", "svg", "svg KB", "json KB"], rows))
    print(f"\nThroughput, {CLIENTS} concurrent clients:")
    rows = [
        [kind, r["requests"], r["rate"], r["p50_ms"], r["p99_ms"], r["errors"]]
        for kind in ("uncached", "cached")
        for r in (results[f"throughput_{kind}"],)
    ]
    print(table(["requests", "count", "per s", "p50 ms", "p99 ms", "errors"], rows))
    print("\nCPU per uncached request under load, by process (where the time goes):")
    print(table(["process", "ms"], [[k, v] for k, v in results["cpu_ms_per_request"].items()]))
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
