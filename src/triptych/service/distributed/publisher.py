"""The API side of distributed execution: hand committed jobs to the broker.

``CeleryExecutor`` has the embedded executor's interface (``start``, ``dispatch``, ``stop``),
so the web layer does not care where jobs run. Publishing happens after the job's
transaction commits; a publish that fails (broker down) is logged and left to the sweeper,
which re-publishes queued jobs that nobody started within ``requeue_after_seconds``.
"""

from __future__ import annotations

import logging

from triptych.catalog.loader import UnknownModelError
from triptych.db.models import Job
from triptych.service.distributed.celery_app import (
    TASK,
    make_celery,
    make_queue,
    message_priority,
)
from triptych.service.jobs import JobService
from triptych.service.pools import queue_for
from triptych.service.sweeper import Sweeper

log = logging.getLogger("triptych.publisher")


class CeleryExecutor:
    def __init__(self, jobs: JobService, *, sweep: bool = True) -> None:
        self.jobs = jobs
        self.settings = jobs.ctx.settings
        self.celery = make_celery(self.settings)
        self.sweeper = Sweeper(jobs, self.publish) if sweep else None

    def start(self) -> None:
        if self.sweeper is not None:
            self.sweeper.start()

    def stop(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()

    def dispatch(self, job_id: str, priority: int = 1, model_id: str | None = None) -> None:
        """No local completion event: callers wait on the progress hub (runner.wait_final)."""
        self.publish(job_id, priority, model_id)

    def publish(self, job_id: str, priority: int = 1, model_id: str | None = None) -> bool:
        if model_id is None:
            with self.jobs.ctx.sessions.begin() as s:
                job = s.get(Job, job_id)
                if job is None:
                    return False
                model_id = job.model_id
        try:
            name = queue_for(self.jobs.ctx.catalog.get(model_id))
        except UnknownModelError:
            log.error("job %s names model %s, which is not in this catalog", job_id, model_id)
            return False
        try:
            self.celery.send_task(TASK, args=[job_id], queue=make_queue(name), routing_key=name,
                                  priority=message_priority(priority, self.settings.broker_url),
                                  retry=True)
            return True
        except Exception:  # broker unreachable: the sweeper publishes it later
            log.warning("could not publish job %s; the sweeper will", job_id, exc_info=True)
            return False
