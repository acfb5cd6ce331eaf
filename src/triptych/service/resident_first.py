"""Resident first: among queued jobs of equal priority, run those whose model is already
loaded before one whose model would have to be loaded (and another one evicted).

A swap of a local open-weight model costs seconds to minutes; running the jobs for what is
resident first turns "A B A B" into "A A B B". Only ``gpu``-pool models (``diffusers:``)
swap: built-in and hosted models never wait behind this. A job is passed over at most
``max_skips`` times (``TRIPTYCH_RESIDENT_FIRST_SKIPS``), so a cold model's job is delayed,
never starved; priority still comes first (pro accounts before free ones).

Used by the embedded executor (``ResidentFirstQueue``) and by Celery workers, which run a
few queued jobs of their resident models before a job that needs a swap (``resident_backlog``).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from triptych.catalog.loader import UnknownModelError
from triptych.db.models import Job
from triptych.engines import residency
from triptych.service.job_status import QUEUED
from triptych.service.pools import pool_of

if TYPE_CHECKING:
    from triptych.service.jobs import JobService

NeedsSwap = Callable[[str | None], bool]


def needs_swap_for(jobs: JobService) -> NeedsSwap:
    """Whether a job for ``model_id`` would load a local model that is not resident."""
    def needs_swap(model_id: str | None) -> bool:
        if model_id is None:
            return False
        try:
            card = jobs.ctx.catalog.get(model_id)
        except UnknownModelError:
            return False
        manager = residency.current()
        return pool_of(card) == "gpu" and not (manager and manager.is_resident(model_id))

    return needs_swap


@dataclass(order=True)
class _Entry:
    priority: int
    seq: int
    job_id: str | None = field(compare=False)
    model_id: str | None = field(compare=False)
    skips: int = field(default=0, compare=False)


class ResidentFirstQueue:
    """A blocking priority queue of job ids (``put``/``get``) that prefers resident models."""

    def __init__(self, needs_swap: NeedsSwap, max_skips: int = 4) -> None:
        self.needs_swap = needs_swap
        self.max_skips = max_skips
        self._entries: list[_Entry] = []  # sorted by (priority, seq)
        self._seq = 0
        self._ready = threading.Condition()

    def put(self, priority: int, job_id: str | None, model_id: str | None = None) -> None:
        with self._ready:
            self._seq += 1
            bisect.insort(self._entries, _Entry(priority, self._seq, job_id, model_id))
            self._ready.notify()

    def get(self) -> str | None:
        with self._ready:
            while not self._entries:
                self._ready.wait()
            return self._take().job_id

    def qsize(self) -> int:
        with self._ready:
            return len(self._entries)

    def _take(self) -> _Entry:
        head = self._entries[0]
        if (self.max_skips <= 0 or head.job_id is None or head.skips >= self.max_skips
                or not self.needs_swap(head.model_id)):
            return self._entries.pop(0)
        for i, entry in enumerate(self._entries[1:], start=1):
            if entry.priority != head.priority:
                break
            if entry.job_id is not None and not self.needs_swap(entry.model_id):
                for passed in self._entries[:i]:
                    passed.skips += 1
                return self._entries.pop(i)
        return self._entries.pop(0)


def resident_backlog(jobs: JobService, served: list[str], limit: int) -> list[str]:
    """Queued jobs (oldest first, by priority) for the served models that are resident in
    this process: what a Celery worker runs before a job that needs a swap."""
    manager = residency.current()
    if manager is None or limit <= 0:
        return []
    resident = [m for m in served if manager.is_resident(m)]
    if not resident:
        return []
    with jobs.ctx.sessions() as s:
        return list(s.scalars(
            select(Job.id).where(Job.status == QUEUED, Job.cancel_requested.is_(False),
                                 Job.model_id.in_(resident))
            .order_by(Job.priority, Job.created_at).limit(limit)))
