"""The API side of distributed execution: hand committed jobs to the broker.

``CeleryExecutor`` has the embedded executor's interface (``start``, ``dispatch``, ``wait``,
``stop``), so the web layer does not care where jobs run. Publishing happens after the job's
transaction commits; a publish that fails (broker down) is logged and left to the sweeper,
which re-publishes queued jobs that nobody started within ``requeue_after_seconds``.
"""

from __future__ import annotations

import logging
import queue
import time

from triptych.catalog.loader import UnknownModelError
from triptych.db.models import Job
from triptych.service.distributed.celery_app import (
    TASK,
    make_celery,
    make_queue,
    message_priority,
)
from triptych.service.jobs import FINAL, JobService
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
        self.publish(job_id, priority, model_id)
        return None  # no local completion event: callers wait on the job row / progress hub

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

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Block until the job is final (True) or ``timeout`` passes (False): woken by the
        shared progress hub's final event, with the row re-read every second as a backstop."""
        hub = self.jobs.ctx.hub
        q = hub.subscribe(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with self.jobs.ctx.sessions.begin() as s:
                    job = s.get(Job, job_id)
                    if job is None or job.status in FINAL:
                        return job is not None
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0:
                    return False
                try:
                    q.get(timeout=left)
                except queue.Empty:
                    pass
        finally:
            hub.unsubscribe(job_id, q)
