"""The sweeper: one pass every ``sweep_interval_seconds`` that keeps jobs moving.

- recovery (``JobService.recover``): running jobs whose lease lapsed are re-queued or
  refunded, queued jobs past the queue deadline are refunded;
- hand-over: queued jobs nobody started within ``requeue_after_seconds`` (a server died
  between commit and publish, a broker lost a message, a server died holding its memory
  queue) are given to ``redispatch`` again;
- now and then, stored image files that no row references are collected.

Every change it makes is conditional on the row, so passes in several processes are safe;
on PostgreSQL an advisory lock also keeps them from doing the same work twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

from triptych.service import worker_registry
from triptych.service.jobs import JobService
from triptych.service.store_gc import UNCOMMITTED_GRACE, collect_orphans

log = logging.getLogger("triptych.sweeper")

ADVISORY_KEY = 0x7472_6970  # "trip": one sweeper at a time across processes
GC_EVERY = 20  # passes between two collections of orphaned image files
WORKER_ROWS_KEPT = 7 * 86400  # seconds a silent worker's row stays for `triptych status`

Redispatch = Callable[[str, int, str], object]  # (job id, priority, model id)


class Sweeper:
    def __init__(self, jobs: JobService, redispatch: Redispatch,
                 interval: float | None = None) -> None:
        self.jobs = jobs
        self.redispatch = redispatch
        self.interval = interval or jobs.ctx.settings.sweep_interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="triptych-sweeper")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self, older_than: float | None = None) -> dict[str, list[str]]:
        with self._exclusive() as mine:
            if not mine:
                return {"requeued": [], "voided": [], "redispatched": []}
            result = self.jobs.recover()
            wait = self.jobs.ctx.settings.requeue_after_seconds if older_than is None \
                else older_than
            redispatched = []
            for job_id, priority, model_id in self.jobs.take_unpublished(wait):
                self.redispatch(job_id, priority, model_id)
                redispatched.append(job_id)
            self._passes += 1
            if self._passes % GC_EVERY == 0:
                self._collect()
            return {**result, "redispatched": redispatched}

    def _collect(self) -> None:
        """Now and then: image files no row references, and rows of workers long gone
        (a container starts under a new name each time, so they would pile up)."""
        try:
            collect_orphans(self.jobs.ctx.sessions, self.jobs.ctx.store, UNCOMMITTED_GRACE,
                            self.jobs.ctx.clock())
        except Exception:
            log.exception("collecting orphaned image files failed")
        try:
            worker_registry.prune(self.jobs.ctx.sessions, self.jobs.ctx.clock(),
                                  older_than_seconds=WORKER_ROWS_KEPT)
        except Exception:
            log.exception("pruning the worker registry failed")

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """PostgreSQL: a session advisory lock (skip the pass if another process holds it).
        SQLite serialises writers already."""
        engine = self.jobs.ctx.sessions.kw.get("bind")
        if engine is None or engine.dialect.name != "postgresql":
            yield True
            return
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": ADVISORY_KEY}).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                    conn.commit()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                log.exception("sweep failed")
            log.debug("sweep took %.3f s", time.monotonic() - started)
