"""`python -m bench.rates OLD NEW`: uncached throughput of two checkouts, taken in turns.

On a machine shared with other work a throughput figure moves by tens of percent within a
minute; measuring both checkouts in alternating rounds of a few seconds lets their ratio
(new / old) be read even when the figures are not.
"""

import argparse
import itertools
import statistics
from pathlib import Path

from bench.load import Client, throughput, timed_post, uncached
from bench.programs import SEED_SIZED
from bench.server import running_server

CLIENTS = 8


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    arguments = parser.parse_args()
    seed = SEED_SIZED[:2]
    turns = itertools.count()
    rates: dict[str, list[float]] = {"old": [], "new": []}
    with (
        running_server(arguments.old.resolve()) as old,
        running_server(arguments.new.resolve()) as new,
    ):
        servers = {"old": old.url, "new": new.url}
        for url in servers.values():
            client = Client(url)
            for program in seed:
                timed_post(client, uncached(program))
            client.close()
        for _ in range(arguments.rounds):
            for name, url in servers.items():
                result = throughput(
                    url, lambda: uncached(seed[next(turns) % 2]), CLIENTS, arguments.seconds
                )
                rates[name].append(result.rate)
                print(
                    f"{name}: {result.rate:.1f}/s p50 {result.p50_ms:.0f} ms "
                    f"p99 {result.p99_ms:.0f} ms errors {result.errors}"
                )
    old_rate, new_rate = statistics.median(rates["old"]), statistics.median(rates["new"])
    print(f"median old {old_rate:.1f}/s, new {new_rate:.1f}/s, new / old {new_rate / old_rate:.2f}")


if __name__ == "__main__":
    main()
