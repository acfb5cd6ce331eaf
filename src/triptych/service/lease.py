"""A running job's heartbeat: renews the job's lease while its engine works.

Without it a provider call longer than the lease looked like a dead worker: another process
re-queued the live job and the model ran twice. The keeper renews every third of a lease, so
only a process that has really stopped (or lost the database for a whole lease) loses a job.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triptych.service.jobs import JobService

log = logging.getLogger("triptych.lease")


class LeaseKeeper:
    def __init__(self, jobs: JobService, job_id: str, attempt: int) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.attempt = attempt
        self.interval = max(0.05, jobs.ctx.settings.job_lease_seconds / 3)
        self.lost = False  # set when another attempt took the job over
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"lease-{job_id[:8]}")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.jobs.renew_lease(self.job_id, self.attempt):
                    self.lost = True
                    return
            except Exception:  # a database hiccup: try again next beat, the lease has slack
                log.warning("could not renew the lease of job %s", self.job_id, exc_info=True)
