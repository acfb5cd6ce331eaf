"""The worker side: the one task, ``triptych.run_job``, and the facade each worker process
builds for it (after Celery forks its pool, so no database connection crosses a fork)."""

from __future__ import annotations

import logging
import threading

from triptych.service.jobs import JobService

log = logging.getLogger("triptych.tasks")

_jobs: JobService | None = None
_lock = threading.Lock()


def worker_jobs() -> JobService:
    global _jobs
    with _lock:
        if _jobs is None:
            from triptych.client import Triptych

            _jobs = Triptych().jobs
        return _jobs


def use_jobs(jobs: JobService | None) -> None:
    """Set the job service the task uses in this process (the worker's main process builds
    one before it starts consuming; tests pass their own)."""
    global _jobs
    with _lock:
        _jobs = jobs


def run_job(job_id: str) -> None:
    """Run a job if it is still queued. A duplicate or redelivered message finds it claimed
    or final and returns at once; the message is acknowledged either way."""
    job = worker_jobs().run_job(job_id)
    log.info("job %s: %s", job_id, job.status)
