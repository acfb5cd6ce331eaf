"""The embedded executor: a pool of worker threads taking queued jobs, pro accounts first.

Every worker calls ``JobService.run_job``, the same function a Celery worker calls, and the
database row stays authoritative: a job is claimed atomically, so a job dispatched twice (or
by two servers) runs once. A sweeper thread repeats the recovery pass and takes queued jobs
that nobody has started for ``requeue_after_seconds`` — those a stopped server held in its
memory queue, or any backlog another server on the same database can help with.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Protocol

from triptych.db.models import Job
from triptych.service.job_status import FINAL
from triptych.service.jobs import JobService
from triptych.service.resident_first import ResidentFirstQueue, needs_swap_for
from triptych.service.sweeper import Sweeper

if TYPE_CHECKING:
    from triptych.client import Triptych
    from triptych.settings import Settings

log = logging.getLogger("triptych.executor")


class Executor(Protocol):
    """Where a server's jobs run: in its own threads, or in Celery workers."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def dispatch(self, job_id: str, priority: int = 1,
                 model_id: str | None = None) -> threading.Event | None: ...


def make_executor(tp: Triptych, workers: int | None = None) -> Executor:
    if tp.settings.broker_url:
        from triptych.service.distributed.publisher import CeleryExecutor

        return CeleryExecutor(tp.jobs)
    # Every built-in model that runs here, the default (a new user's first click) first:
    # the first image after start is then as fast as the second, and so is the first compare.
    try:
        first = [tp.default_model()]
    except Exception:
        first = []
    warm = first + [c.id for c in tp.catalog
                    if c.builtin and c.id not in first and tp.availability(c)[0]]
    return InProcessExecutor(tp.jobs, workers=workers or worker_threads(tp.settings),
                             warm=warm)


def worker_threads(settings: Settings) -> int:
    """``workers``, raised to a full batch while batching is on: a batch forms only from
    jobs running at once, and its members wait in their threads while one of them runs it."""
    return max(settings.workers, settings.batch_max) if settings.batching else settings.workers


class InProcessExecutor:
    def __init__(self, jobs: JobService, workers: int = 2,
                 recovery_interval: float | None = None, warm: list[str] | None = None) -> None:
        self.jobs = jobs
        # built-in models, then those the operator preloads (TRIPTYCH_RESIDENCY_PRELOAD), to
        # load in the background at start
        self.warm = [*(warm or []), *(m for m in jobs.ctx.settings.preload_models
                                     if m in jobs.ctx.catalog and m not in (warm or []))]
        # Within a priority, jobs for local models already loaded go first (fewer swaps).
        self._queue = ResidentFirstQueue(needs_swap_for(jobs),
                                         jobs.ctx.settings.resident_first_skips)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.workers = workers
        self.sweeper = Sweeper(jobs, lambda job_id, priority, model: self.dispatch(
            job_id, priority, model), interval=recovery_interval)
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.sweep(older_than=0.0)  # what a previous process left queued or running
        if self.warm:
            # Counted before the thread starts, so /readyz is never briefly "ready".
            self.jobs.warming = {"ready": 0, "of": len(self.jobs.to_warm(self.warm))}
            threading.Thread(target=self.jobs.warm_up, args=(self.warm,), daemon=True,
                             name="triptych-warm-up").start()
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"triptych-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.sweeper.start()

    def dispatch(self, job_id: str, priority: int = 1,
                 model_id: str | None = None) -> threading.Event:
        with self._lock:
            event = self._done.get(job_id)
            if event is not None:
                return event  # already waiting in our queue
            event = self._done[job_id] = threading.Event()
        self._queue.put(priority, job_id, model_id)
        return event

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Block until the job is final; True if it is (the database decides, so a job that
        finished before the call, or in another process, counts)."""
        with self._lock:
            event = self._done.get(job_id)
        if event is not None and event.wait(timeout):
            return True
        with self.jobs.ctx.sessions.begin() as s:
            job = s.get(Job, job_id)
            return job is not None and job.status in FINAL

    def stop(self) -> None:
        self.sweeper.stop()
        self._stop.set()
        for _ in self._threads:
            self._queue.put(99, None)
        for thread in self._threads:
            thread.join(timeout=5)

    def sweep(self, older_than: float | None = None) -> dict[str, list[str]]:
        """One sweeper pass now (``older_than``: how long a queued job must have waited)."""
        return self.sweeper.run_once(older_than)

    def _work(self) -> None:
        while not self._stop.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self.jobs.run_job(job_id)
            except Exception:  # never kill the worker; recovery settles the job
                log.exception("worker failed on job %s", job_id)
            finally:
                with self._lock:
                    event = self._done.pop(job_id, None)
                if event is not None:
                    event.set()
