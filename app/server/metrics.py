"""What the server exposes at /metrics, in Prometheus's text format.

Labels come from closed sets (route templates, status codes, problem types, outcomes), never
from a request's text: no program, path or token reaches a metric, and a client cannot grow
the number of series. Each app has a registry of its own, so that tests can build many.
Counts the pools keep themselves (busy, idle, waiting, restarts) are read when scraped.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from app.server.cache import ResponseCache
    from app.server.layout import LayoutService
    from app.server.workers import EvaluationPool

# A `_created` series beside every counter doubles what a scrape reads, for a time the
# process's start already gives.
disable_created_metrics()  # type: ignore[no-untyped-call]
# From a cached answer (about a millisecond) to a job that ran into its time limits.
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's instruments, recorded by the middleware, the pool and the layout service."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # The server process's CPU, memory and open files, and Python's version, as every
        # Prometheus client exports them (job processes are counted in the pools below).
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "agx_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "agx_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route.",
            ["method", "route"],
            buckets=SECONDS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "agx_refusals",
            "Problem answers (application/problem+json), by problem type: refused programs, "
            "limits, rate limits, busy servers.",
            ["type"],
            registry=self.registry,
        )
        self.evaluations = Histogram(
            "agx_evaluation_duration_seconds",
            "Time a job process took to answer, from the job sent to the graph's details, by "
            "outcome (ok, program_error, timeout, killed).",
            ["outcome"],
            buckets=SECONDS,
            registry=self.registry,
        )
        self.layouts = Histogram(
            "agx_layout_duration_seconds",
            "Time one drawing took, fallback engines included, by the engine that drew it "
            "(none when Graphviz failed or ran out of time, cached when it was drawn before).",
            ["engine"],
            buckets=SECONDS,
            registry=self.registry,
        )

    def watch(
        self, pool: "EvaluationPool", layout: "LayoutService", cache: "ResponseCache"
    ) -> None:
        """Read the pools' and the cache's own counts at every scrape."""
        self.registry.register(PoolCollector(pool, layout, cache))


class PoolCollector(Collector):
    """Gauges and counters the pools keep as plain numbers, read when scraped."""

    def __init__(
        self, pool: "EvaluationPool", layout: "LayoutService", cache: "ResponseCache"
    ) -> None:
        self.pool = pool
        self.layout = layout
        self.cache = cache

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        gauges = {
            "busy": "Job processes running a job.",
            "idle": "Job processes warmed up and waiting for a job.",
            "waiting": "Requests waiting for a job process.",
            "slots": "Jobs that may run at once.",
        }
        pools = (self.pool.processes, self.layout.processes)
        states = {processes.role.name: processes.state() for processes in pools}
        for name, help_text in gauges.items():
            family = GaugeMetricFamily(f"agx_pool_{name}", help_text, labels=["pool"])
            for pool, state in states.items():
                family.add_metric([pool], state[name])
            yield family
        restarts = CounterMetricFamily(
            "agx_job_process_restarts",
            "Job processes replaced, by pool and cause: completed (each job has a process of "
            "its own), timeout, killed (a memory or CPU limit, or a signal), died_idle, "
            "start_failed, zygote (the process that forks them was restarted).",
            labels=["pool", "cause"],
        )
        for processes in pools:
            for cause, count in sorted(processes.restart_counts().items()):
                restarts.add_metric([processes.role.name, cause], count)
        yield restarts
        waiting = GaugeMetricFamily(
            "agx_answered_waiting",
            "Job processes that answered and wait for their gradient check to be asked for.",
        )
        waiting.add_metric([], len(self.pool.waiting_answered))
        yield waiting
        ends = CounterMetricFamily(
            "agx_answered",
            "Job processes that answered, by how they ended: asked (their gradient check was "
            "asked for and made) or unasked (let go of: nobody asked in time, or room was "
            "needed).",
            labels=["end"],
        )
        for end in ("asked", "unasked"):
            ends.add_metric([end], self.pool.answered_ends[end])
        yield ends
        for name, help_text, count in (
            ("hits", "Requests answered from the cache of answers.", self.cache.hits),
            ("misses", "Requests the cache of answers did not have.", self.cache.misses),
        ):
            counter = CounterMetricFamily(f"agx_cache_{name}", help_text)
            counter.add_metric([], count)
            yield counter
