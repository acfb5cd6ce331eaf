"""The embedded executor: a pool of worker threads taking queued jobs, pro accounts first.

Every worker calls ``JobService.run_job``, the same function a Celery worker would call, and
the database row stays authoritative: a job is claimed atomically, so a job dispatched twice
runs once. At start-up the pool runs the recovery pass and picks up jobs a previous process
left queued; a timer repeats the recovery pass.
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
    def __init__(self, jobs: JobService, workers: int = 2, recovery_interval: float = 60.0):
        self.jobs = jobs
        self._queue: queue.PriorityQueue[tuple[int, int, str | None]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.workers = workers
        self.recovery_interval = recovery_interval
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.jobs.recover()
        for job_id in self.jobs.queued_ids():
            self.dispatch(job_id)
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"triptych-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        timer = threading.Thread(target=self._recover_periodically, daemon=True,
                                 name="triptych-recovery")
        timer.start()
        self._threads.append(timer)

    def dispatch(self, job_id: str, priority: int = 1) -> threading.Event:
        with self._lock:
            event = self._done.setdefault(job_id, threading.Event())
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

    def _recover_periodically(self) -> None:
        while not self._stop.wait(self.recovery_interval):
            try:
                result = self.jobs.recover()
                for job_id in result["requeued"]:
                    self.dispatch(job_id)
            except Exception:
                log.exception("recovery pass failed")
