"""The benchmark's table, its verdict on each goal, and the JSON it writes."""

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    )


def goals(results: dict[str, Any]) -> list[tuple[str, bool]]:
    seed, rnn = results["seed_sized"], {row["steps"]: row for row in results["rnn"]}
    uncached, cached = results["throughput_uncached"], results["throughput_cached"]
    small = [r for r in results["seed_sized"] + results["tutorial_sized"] if r["nodes"] <= 50]
    panel, lesson = results["gradcheck_panel"], results["classroom"]
    drawings = {row["program"]: row for row in results["drawings"]}
    hubs = [row for name, row in drawings.items() if "steps" in name and "shared" in name]
    models = [row for row in drawings.values() if row not in hubs]
    return [
        (
            "seed notebook programs: median ratio to torchviz <= 1.0",
            all(r["ratio"] <= 1.0 for r in seed if r["program"].startswith("seed")),
        ),
        (
            "every seed-sized program (MLP, RNN 30 too): ratio <= 1.0",
            all(r["ratio"] <= 1.0 for r in seed),
        ),
        ("RNN 100 steps under 1 s, with a picture", rnn[100]["median_s"] < 1 and rnn[100]["svg"]),
        (
            "RNN 1000 steps under 5 s, with a picture",
            rnn[1000]["median_s"] < 5 and rnn[1000]["svg"],
        ),
        ("RNN: JSON keeps every node and gradient", all(r["all_grads"] for r in rnn.values())),
        (
            "hub loops, 100 steps: drawn by dot under 1 s",
            all(_drawn(r, "dot", 1) for r in hubs if r["program"].endswith(" 100 steps")),
        ),
        (
            "hub loops, 1000 steps: drawn by dot under 3 s",
            all(_drawn(r, "dot", 3) for r in hubs if r["program"].endswith(" 1000 steps")),
        ),
        (
            "transformer, CNN, LSTM 50: a drawing under 1 s each",
            all(r["svg"] and r["median_s"] < 1 for r in models),
        ),
        ("uncached: >= 60 requests/s from 8 clients", uncached["rate"] >= 60),
        (
            "uncached: p99 under 300 ms, no errors",
            uncached["p99_ms"] < 300 and not uncached["errors"],
        ),
        ("cached: >= 500 requests/s, no errors", cached["rate"] >= 500 and not cached["errors"]),
        (
            "every program of up to 50 nodes: ratio to torchviz <= 0.7",
            all(r["ratio"] <= 0.7 for r in small),
        ),
        (
            "first request of a never-seen program (up to 50 nodes): median under 150 ms",
            all(r["median_ms"] < 150 for r in results["first_seen"] if r["nodes"] <= 50),
        ),
        ("gradient check of the 3-layer MLP in hand within 1 s", panel["max_ms"] < 1000),
        (
            f"classroom of {lesson['learners']}: p99 under 500 ms, no errors",
            lesson["p99_ms"] < 500 and not lesson["errors"],
        ),
    ]


def _drawn(row: dict[str, Any], by: str, seconds: float) -> bool:
    return bool(row["svg"]) and row["drawn_by"] == by and row["median_s"] < seconds


def save(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    results["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"] = {"cpus": _cpus(), "python": platform.python_version()}
    text = json.dumps(results, indent=2)
    (RESULTS / "latest.json").write_text(text)
    path = RESULTS / f"bench-{results['when'].replace(':', '')}.json"
    path.write_text(text)
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
