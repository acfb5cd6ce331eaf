"""The worker side: the one task, ``triptych.run_job``, and the job service each worker
process builds for it (after Celery forks its pool, so no database connection crosses a
fork). The worker's entry point says how to build one (``use_factory``): the service layer
never builds the facade itself."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select

from triptych.catalog.loader import UnknownModelError
from triptych.db.models import Job
from triptych.service.jobs import JobService
from triptych.service.pools import pool_of
from triptych.service.resident_first import needs_swap_for, resident_backlog

log = logging.getLogger("triptych.tasks")

_jobs: JobService | None = None
_factory: Callable[[], JobService] | None = None
_lock = threading.Lock()
_served: list[str] = []  # the models this worker serves (``use_served``)


def worker_jobs() -> JobService:
    global _jobs
    with _lock:
        if _jobs is None:
            if _factory is None:
                raise RuntimeError("this process was not set up as a worker (use_factory)")
            _jobs = _factory()
        return _jobs


def use_factory(factory: Callable[[], JobService]) -> None:
    """How a process that has none yet builds its job service (a forked pool process)."""
    global _factory
    with _lock:
        _factory = factory


def use_jobs(jobs: JobService | None) -> None:
    """Set the job service the task uses in this process (the worker's main process builds
    one before it starts consuming; tests pass their own)."""
    global _jobs
    with _lock:
        _jobs = jobs


def use_served(model_ids: list[str]) -> None:
    """The models this worker serves: the ones whose queued jobs it may run first."""
    _served[:] = model_ids


def run_job(job_id: str) -> None:
    """Run a job if it is still queued. A duplicate or redelivered message finds it claimed
    or final and returns at once; the message is acknowledged either way."""
    jobs = worker_jobs()
    for other in _resident_jobs_first(jobs, job_id):
        log.info("job %s waits: job %s runs first on a model already loaded", job_id, other)
        jobs.run_job(other)  # its own message, delivered later, finds it final
    job = jobs.run_job(job_id)
    log.info("job %s: %s", job_id, job.status)


def _serves_gpu(jobs: JobService) -> bool:
    """Whether any model this worker serves runs in the ``gpu`` pool."""
    for model_id in _served:
        try:
            if pool_of(jobs.ctx.catalog.get(model_id)) == "gpu":
                return True
        except UnknownModelError:
            continue
    return False


def _resident_jobs_first(jobs: JobService, job_id: str) -> list[str]:
    """When this job's model would need a swap, a few queued jobs for models this worker
    has loaded (service/resident_first.py); none otherwise."""
    if not _serves_gpu(jobs):  # only local GPU models swap: skip the row read
        return []
    with jobs.ctx.sessions() as s:
        model_id = s.scalar(select(Job.model_id).where(Job.id == job_id))
    if not needs_swap_for(jobs)(model_id):
        return []
    return resident_backlog(jobs, _served, jobs.ctx.settings.resident_first_skips)
