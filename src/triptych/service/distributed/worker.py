"""``triptych worker``: a Celery worker for the catalog models an operator names.

Queues are per model (``triptych.<pool>.<model>``, see ``service/pools.py``), so a worker
receives only jobs for what it serves: ``--models builtin`` on a CPU box, ``--models
hosted`` with many threads for HTTP providers, ``--models gpu`` on a GPU machine, or any
glob of model ids. Built-in models run in threads of one process while batching is on (a
batch forms from jobs running at once in one process; default: a full batch of threads),
else in processes (CPU-bound); hosted ones in threads (I/O-bound). While it runs, the
worker records itself in the ``workers`` table and sweeps.
SIGTERM (Celery's warm shutdown) finishes the current job and takes no new one; a killed
worker's unacknowledged message goes back to the broker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from celery import signals

from triptych.catalog.card import ModelCard
from triptych.service.pools import matches, pool_of, queue_for

if TYPE_CHECKING:
    from triptych.client import Triptych

log = logging.getLogger("triptych.worker")


@dataclass(frozen=True)
class WorkerPlan:
    models: list[ModelCard]
    queues: list[str]
    pool: str  # celery execution pool: solo | prefork | threads
    concurrency: int


def plan(cards: list[ModelCard], patterns: list[str], concurrency: int | None,
         batch: int = 1) -> WorkerPlan:
    """``batch``: most requests per batch (1: batching is off)."""
    chosen = [c for c in cards if matches(c, patterns)]
    if not chosen:
        raise ValueError(f"No catalog model matches {', '.join(patterns)}; patterns are model "
                         "ids (globs allowed), pools (builtin, hosted, gpu) or providers.")
    pools = {pool_of(c) for c in chosen}
    if pools == {"hosted"}:  # waiting on HTTP: threads
        n = concurrency or 32
        kind = "threads"
    elif "gpu" in pools:  # one copy of each model in GPU memory: one process (batching:
        # a full batch of threads, so concurrent jobs can share a pipeline call)
        n = concurrency or batch
        kind = "threads" if n > 1 else "solo"
    elif batch > 1:  # built-in nets batching: threads of one process, so jobs can meet
        # in one batch (its members wait in their threads while one of them runs it)
        n = concurrency or batch
        kind = "threads" if n > 1 else "solo"
    else:  # CPU-bound nets: one process per core
        n = concurrency or 1
        kind = "prefork" if n > 1 else "solo"
    return WorkerPlan(chosen, [queue_for(c) for c in chosen], kind, n)


def run_worker(make_facade: Callable[[], Triptych], patterns: list[str],
               concurrency: int | None, *, loglevel: str = "INFO", name: str | None = None,
               metrics_port: int | None = None) -> None:
    """Serve until shut down. ``make_facade`` builds this process's facade, and one per
    forked pool process (the entry point passes it: the service layer never builds one)."""
    from triptych.service.distributed import tasks
    from triptych.service.distributed.celery_app import make_celery, make_queue
    from triptych.service.distributed.publisher import CeleryExecutor

    tp = make_facade()
    the_plan = plan(list(tp.catalog), patterns, concurrency,
                    tp.settings.batch_max if tp.settings.batching else 1)
    tp.ctx.store.check()  # a worker that cannot save images must not take jobs
    if metrics_port:
        from triptych.service.metrics import serve_metrics

        serve_metrics(metrics_port)
    app = make_celery(tp.settings)
    app.conf.task_queues = [make_queue(q) for q in the_plan.queues]
    served = [c.id for c in the_plan.models]
    tasks.use_served(served)
    if the_plan.pool != "prefork":
        tasks.use_jobs(tp.jobs)  # jobs run in this process: share its facade
        tp.jobs.warm_up(served)  # before taking the first job
    else:
        tp.db.dispose()  # no open connection may cross into the forked pool processes
        tasks.use_factory(lambda: make_facade().jobs)

        @signals.worker_process_init.connect(weak=False)
        def _warm_child(**_: object) -> None:
            tasks.worker_jobs().warm_up(served)
    hostname = name or f"triptych-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    presence = Presence(tp, hostname, the_plan)
    # The main process sweeps (re-publishes stalled jobs, recovers lost ones) and reports
    # itself alive; the job service it sweeps with never runs a model.
    sweeper = CeleryExecutor(tp.jobs)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_: object) -> None:
        sweeper.start()
        presence.start()

    @signals.worker_shutdown.connect(weak=False)
    def _shutdown(**_: object) -> None:
        sweeper.stop()
        presence.stop()

    one_line_per_job(loglevel)
    log.info("worker %s serves %s on %s×%d", hostname,
             ", ".join(c.id for c in the_plan.models), the_plan.pool, the_plan.concurrency)
    app.worker_main([
        "worker", f"--hostname={hostname}", f"--pool={the_plan.pool}",
        f"--concurrency={the_plan.concurrency}", f"--loglevel={loglevel}",
        "--without-gossip", "--without-mingle", "--prefetch-multiplier=1",
        "-Q", ",".join(the_plan.queues),
    ])


# Celery's own line when a message arrives and when its task returns, keyed by the message's
# id: the job's own line (triptych.tasks: "job <id>: <status>") says what ran.
CELERY_PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def one_line_per_job(loglevel: str) -> None:
    """At INFO, log a job once rather than three times (failures still show: WARNING and
    above); at DEBUG, everything."""
    if logging.getLevelName(loglevel.upper()) == logging.INFO:
        for name in CELERY_PER_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


class Presence:
    """The worker's row in the ``workers`` table, renewed every few seconds."""

    INTERVAL = 5.0

    def __init__(self, tp, worker_id: str, the_plan: WorkerPlan) -> None:
        self.tp = tp
        self.worker_id = worker_id
        self.plan = the_plan
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="presence")

    def start(self) -> None:
        from triptych.service import worker_registry

        worker_registry.register(
            self.tp.ctx.sessions, self.worker_id, socket.gethostname(), os.getpid(),
            self.plan.queues, [c.id for c in self.plan.models], self.plan.concurrency,
            self.tp.ctx.clock())
        self._thread.start()

    def stop(self) -> None:
        from triptych.service import worker_registry

        self._stop.set()
        worker_registry.stopped(self.tp.ctx.sessions, self.worker_id, self.tp.ctx.clock())

    def notes(self) -> dict | None:
        """What ``triptych status`` shows beside the worker: its resident local models."""
        from triptych.engines import residency

        manager = residency.current()
        return {"residency": manager.report()} if manager is not None else None

    def _loop(self) -> None:
        from triptych.service import worker_registry

        while not self._stop.wait(self.INTERVAL):
            try:
                worker_registry.beat(self.tp.ctx.sessions, self.worker_id, self.tp.ctx.clock(),
                                     notes=self.notes())
            except Exception:
                log.warning("could not renew the worker's presence", exc_info=True)
