"""Running jobs' heartbeat: one thread per process renews the lease of every job the process
is running.

Without it a provider call longer than the lease looked like a dead worker: another process
re-queued the live job and the model ran twice. Leases are renewed every third of a lease, so
only a process that has really stopped (or lost the database for a whole lease) loses a job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triptych.service.jobs import JobService

log = logging.getLogger("triptych.lease")


class LeaseRenewer:
    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.interval = max(0.05, jobs.ctx.settings.job_lease_seconds / 3)
        self._running: dict[str, int] = {}  # job id -> the attempt this process runs
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, job_id: str, attempt: int) -> Iterator[None]:
        """Keep this job's lease alive for the duration of the block."""
        with self._lock:
            self._running[job_id] = attempt
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="triptych-leases")
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                if self._running.get(job_id) == attempt:
                    del self._running[job_id]

    def _loop(self) -> None:
        stop = threading.Event()  # the thread lives as long as the process
        while not stop.wait(self.interval):
            with self._lock:
                running = list(self._running.items())
            for job_id, attempt in running:
                try:
                    if not self.jobs.renew_lease(job_id, attempt):
                        # Another attempt owns it now: stop renewing; its settle will
                        # ignore our late result (the attempt check in _succeed/_fail).
                        with self._lock:
                            if self._running.get(job_id) == attempt:
                                del self._running[job_id]
                except Exception:  # a database hiccup: try again next beat; the lease has slack
                    log.warning("could not renew the lease of job %s", job_id, exc_info=True)
