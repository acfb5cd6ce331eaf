"""The embedded executor: a pool of worker threads taking queued jobs, pro accounts first.

Every worker calls ``JobService.run_job``, the same function a Celery worker calls, and the
database row stays authoritative: a job is claimed atomically, so a job dispatched twice (or
by two servers) runs once. A sweeper thread repeats the recovery pass and takes queued jobs
that nobody has started for ``requeue_after_seconds`` — those a stopped server held in its
memory queue, or any backlog another server on the same database can help with.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading

from triptych.db.models import Job
from triptych.service.jobs import FINAL, JobService

log = logging.getLogger("triptych.executor")


class InProcessExecutor:
    def __init__(self, jobs: JobService, workers: int = 2,
                 recovery_interval: float | None = None) -> None:
        self.jobs = jobs
        self._queue: queue.PriorityQueue[tuple[int, int, str | None]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.workers = workers
        settings = jobs.ctx.settings
        self.recovery_interval = recovery_interval or settings.sweep_interval_seconds
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.sweep(older_than=0.0)  # what a previous process left queued or running
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"triptych-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        timer = threading.Thread(target=self._sweep_periodically, daemon=True,
                                 name="triptych-sweeper")
        timer.start()
        self._threads.append(timer)

    def dispatch(self, job_id: str, priority: int = 1) -> threading.Event:
        with self._lock:
            event = self._done.get(job_id)
            if event is not None:
                return event  # already waiting in our queue
            event = self._done[job_id] = threading.Event()
        self._queue.put((priority, next(self._seq), job_id))
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
        self._stop.set()
        for _ in self._threads:
            self._queue.put((99, next(self._seq), None))
        for thread in self._threads:
            thread.join(timeout=5)

    def sweep(self, older_than: float | None = None) -> None:
        """One recovery pass, then dispatch the queued jobs nobody took."""
        self.jobs.recover()
        settings = self.jobs.ctx.settings
        wait = settings.requeue_after_seconds if older_than is None else older_than
        for job_id, priority in self.jobs.take_unpublished(wait):
            self.dispatch(job_id, priority)

    def _work(self) -> None:
        while not self._stop.is_set():
            _, _, job_id = self._queue.get()
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

    def _sweep_periodically(self) -> None:
        while not self._stop.wait(self.recovery_interval):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")
