"""Prometheus metrics: what each process measures, and what the database says at scrape time.

Two kinds, on purpose:

- **Process-local histograms** (this module's globals): HTTP request latency, job latency
  from submit to final state, engine time. Each process counts what it did; Prometheus
  sums them across the processes it scrapes (every ``serve`` and ``worker``).
- **This process's resident local models** (``ResidencyCollector``, engines/residency.py):
  bytes per loaded model, each device's use and budget, loads, hits and evictions.
- **Database-derived series** (``DatabaseCollector``): jobs by model and state, queue depth
  and age per pool, credits captured and refunded, failures by provider and code, live
  workers (and the local models each worker reports loaded). They must be true across
  processes, so they are read from the database on each
  scrape (one ``GROUP BY`` over jobs, one over the ledger, one over workers). Every API
  process reports the same values: aggregate them with ``max``, not ``sum``.

Worker processes expose theirs with ``serve_metrics(port)``. Where jobs run in forked
children (a prefork pool), set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory in the
environment before the process starts: every child then writes its samples there and the
parent's endpoint adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from triptych.catalog.loader import Catalog
from triptych.engines import residency
from triptych.service import job_counts, worker_registry
from triptych.service.clock import Clock
from triptych.service.pools import POOLS

log = logging.getLogger("triptych.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Jobs span a fraction of a second (built-in nets) to minutes (a queued hosted model).
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)

HTTP_LATENCY = Histogram(
    "triptych_http_request_duration_seconds",
    "Time from request to response headers, by route template and status class (an event "
    "stream counts until its first byte).",
    ["route", "method", "status"])
JOB_LATENCY = Histogram(
    "triptych_job_duration_seconds",
    "Time from submit to final state, by model and final status.",
    ["model", "status"], buckets=JOB_BUCKETS)
ENGINE_TIME = Histogram(
    "triptych_job_engine_seconds",
    "Time the engine spent on a job, by model and final status.",
    ["model", "status"], buckets=JOB_BUCKETS)


def observe_job(model_id: str, status: str, total_seconds: float,
                engine_seconds: float | None) -> None:
    """Record a job that reached a final state. ``total_seconds`` is submit to final (clocks
    of two machines may disagree slightly: never below zero); ``engine_seconds`` is None
    when no engine ran (cancelled or expired while queued)."""
    JOB_LATENCY.labels(model_id, status).observe(max(0.0, total_seconds))
    if engine_seconds is not None:
        ENGINE_TIME.labels(model_id, status).observe(max(0.0, engine_seconds))


def observe_request(route: str, method: str, status_code: int, seconds: float) -> None:
    HTTP_LATENCY.labels(route, method, f"{status_code // 100}xx").observe(seconds)


class ResidencyCollector:
    """The local models loaded in this process, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        manager = residency.current()
        report = manager.report() if manager is not None else None
        resident = GaugeMetricFamily("triptych_resident_model_bytes",
                                     "Bytes a loaded local model holds on its device.",
                                     labels=["model", "device"])
        used = GaugeMetricFamily("triptych_residency_used_bytes",
                                 "Bytes of loaded local models per device.", labels=["device"])
        budget = GaugeMetricFamily("triptych_residency_budget_bytes",
                                   "The residency budget per device (absent: no limit).",
                                   labels=["device"])
        for m in report["models"] if report else []:
            resident.add_metric([m["model"], m["device"]], m["bytes"])
        for device, d in (report["devices"] if report else {}).items():
            used.add_metric([device], d["used_bytes"])
            if d["budget_bytes"] is not None:
                budget.add_metric([device], d["budget_bytes"])
        yield from (resident, used, budget)
        for name, key, text in (
                ("triptych_model_loads", "loads", "Local model loads (a miss: weights read)."),
                ("triptych_model_resident_hits", "hits", "Jobs that found their model loaded."),
                ("triptych_model_evictions", "evictions",
                 "Local models unloaded to make room (budget or out of memory).")):
            yield CounterMetricFamily(name, text, value=report[key] if report else 0)


_residency_collector = ResidencyCollector()
REGISTRY.register(_residency_collector)  # type: ignore[arg-type]


def process_registry() -> Collector:
    """This process's own metrics: the default registry, or, in multiprocess mode, the sum
    of every process's files in ``PROMETHEUS_MULTIPROC_DIR`` plus this process's resident
    models."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return REGISTRY
    Path(path).mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    registry.register(_residency_collector)  # type: ignore[arg-type]
    return registry


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Serve this process's metrics at ``http://addr:port/metrics`` from a daemon thread
    (for ``triptych worker``; the API serves its own at ``/metrics``)."""
    start_http_server(port, addr=addr, registry=process_registry())


class DatabaseCollector:
    """Series read from the database at scrape time (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], catalog: Catalog, clock: Clock) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("triptych_database_up",
                               "1 if the last scrape could read the database, else 0.")
        try:
            families = list(self._read())
        except Exception as exc:  # a scrape must still answer, saying the database is down
            log.warning("metrics: cannot read the database: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[Metric]:
        now = self.clock()
        with self.sessions() as s:
            groups = job_counts.job_groups(s)
            credits = job_counts.settled_credits(s)
            live = worker_registry.alive(s, now)

        jobs = GaugeMetricFamily("triptych_jobs", "Jobs in the database by model and state.",
                                 labels=["model", "state"])
        for (model, state), count in job_counts.by_model_state(groups).items():
            jobs.add_metric([model, state], count)
        yield jobs

        depth = GaugeMetricFamily("triptych_queue_depth", "Queued jobs per worker pool.",
                                  labels=["pool"])
        age = GaugeMetricFamily("triptych_queue_oldest_age_seconds",
                                "Age of the oldest queued job per pool (0 when none).",
                                labels=["pool"])
        for pool, queue in job_counts.queues(groups, self.catalog, now).items():
            depth.add_metric([pool], queue.depth)
            age.add_metric([pool], queue.oldest_age_seconds)
        yield depth
        yield age

        failures = CounterMetricFamily(
            "triptych_job_failures", "Failed jobs by provider (engine scheme) and error code.",
            labels=["provider", "code"])
        for (provider, code), count in job_counts.failures(groups, self.catalog).items():
            failures.add_metric([provider, code], count)
        yield failures

        yield CounterMetricFamily("triptych_credits_captured",
                                  "Credits charged for delivered images (ledger captures).",
                                  value=credits["captured"])
        yield CounterMetricFamily("triptych_credits_refunded",
                                  "Held credits returned to users (ledger voids).",
                                  value=credits["refunded"])

        workers = GaugeMetricFamily("triptych_workers_live",
                                    "Live workers (recent heartbeat) serving each pool.",
                                    labels=["pool"])
        slots = GaugeMetricFamily("triptych_worker_slots",
                                  "Jobs live workers can run at once, per pool.",
                                  labels=["pool"])
        served = worker_registry.served_pools(live)
        for pool in sorted(set(POOLS) | set(served)):
            workers.add_metric([pool], served.get(pool, 0))
            slots.add_metric([pool], sum(w.concurrency for w in live
                                         if pool in worker_registry.pools_of(w)))
        yield workers
        yield slots

        resident = GaugeMetricFamily(
            "triptych_worker_resident_model_bytes",
            "Bytes of each local model a live worker reports loaded.",
            labels=["worker", "model", "device"])
        for w in live:
            for m in ((w.notes or {}).get("residency") or {}).get("models", []):
                resident.add_metric([w.id, m["model"], m["device"]], m["bytes"])
        yield resident


class Exposition:
    """Several collectors as one, for ``generate_latest``."""

    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()
