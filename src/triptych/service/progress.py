"""Progress events for running jobs (fraction done + an optional preview PNG), and the hubs
that carry them from the worker running a job to whoever watches it.

Subscribers (the CLI progress bar, the API's event stream, the web UI) get every event
published after they subscribe, plus the latest one on subscription. Progress is transient:
the job row, not a hub, is the source of truth for a job's state.

Two hubs share one interface (``ProgressHub``):

* ``MemoryProgressHub`` — one process (the embedded default: jobs run in the serving process).
* ``RedisProgressHub`` (``progress_redis``) — workers on any machine publish, an event stream on
  any API process receives. ``make_hub(settings)`` picks it when a shared Redis is configured.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from triptych.service.job_status import FINAL, RUNNING

if TYPE_CHECKING:
    from triptych.settings import Settings

FINAL_TTL = 300.0  # seconds a finished job's last event stays for late subscribers
IDLE_TTL = 6 * 3600.0  # seconds a job with no event (its worker died?) stays
# A final event's ``extra`` key for the finished job as ``job_view.job_public`` gives it:
# whoever waits on the event has the job without reading its row again.
FINAL_JOB = "job"


@dataclass
class ProgressEvent:
    job_id: str
    status: str  # running | succeeded | failed | canceled
    fraction: float
    preview_png: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.status in FINAL


def progress_event(job_id: str, fraction: float, preview: Image.Image | None) -> ProgressEvent:
    """A ``running`` event, the preview (if any) encoded as PNG."""
    png = None
    if preview is not None:
        buffer = io.BytesIO()
        preview.convert("RGB").save(buffer, format="PNG")
        png = buffer.getvalue()
    return ProgressEvent(job_id, RUNNING, max(0.0, min(1.0, fraction)), png)


class ProgressHub(Protocol):
    def publish(self, event: ProgressEvent) -> None: ...

    def publish_progress(self, job_id: str, fraction: float,
                         preview: Image.Image | None) -> None: ...

    def latest(self, job_id: str) -> ProgressEvent | None: ...

    def subscribe(self, job_id: str,
                  into: queue.Queue[ProgressEvent] | None = None) -> queue.Queue[ProgressEvent]:
        """Events for ``job_id`` go to the returned queue (``into``, when given: a caller that
        must be woken passes a queue subclass that wakes it on ``put``)."""
        ...

    def unsubscribe(self, job_id: str, q: queue.Queue[ProgressEvent]) -> None: ...

    def forget(self, job_id: str) -> None: ...


class MemoryProgressHub:
    """The hub of one process. A job's last event is dropped ``final_ttl`` seconds after its
    final event, or ``idle_ttl`` seconds after its last event when no final one ever comes."""

    def __init__(self, *, final_ttl: float = FINAL_TTL, idle_ttl: float = IDLE_TTL,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.final_ttl = final_ttl
        self.idle_ttl = idle_ttl
        self._now = now
        self._lock = threading.Lock()
        self._latest: dict[str, ProgressEvent] = {}
        self._subscribers: dict[str, list[queue.Queue[ProgressEvent]]] = {}
        # job id -> when to drop it, in insertion order; with one TTL per dict and a clock
        # that only goes forward, each dict is also in deadline order.
        self._final_until: dict[str, float] = {}
        self._idle_until: dict[str, float] = {}

    def publish(self, event: ProgressEvent) -> None:
        now = self._now()
        with self._lock:
            self._expire(now)
            job_id = event.job_id
            self._latest[job_id] = event
            self._idle_until.pop(job_id, None)
            self._final_until.pop(job_id, None)
            if event.final:
                self._final_until[job_id] = now + self.final_ttl
            else:
                self._idle_until[job_id] = now + self.idle_ttl
            subscribers = list(self._subscribers.get(job_id, ()))
        for q in subscribers:
            q.put(event)

    def publish_progress(self, job_id: str, fraction: float, preview: Image.Image | None) -> None:
        self.publish(progress_event(job_id, fraction, preview))

    def latest(self, job_id: str) -> ProgressEvent | None:
        with self._lock:
            self._expire(self._now())
            return self._latest.get(job_id)

    def subscribe(self, job_id: str,
                  into: queue.Queue[ProgressEvent] | None = None) -> queue.Queue[ProgressEvent]:
        q: queue.Queue[ProgressEvent] = queue.Queue() if into is None else into
        with self._lock:
            self._expire(self._now())
            self._subscribers.setdefault(job_id, []).append(q)
            latest = self._latest.get(job_id)
        if latest is not None:
            q.put(latest)
        return q

    def unsubscribe(self, job_id: str, q: queue.Queue[ProgressEvent]) -> None:
        with self._lock:
            subscribers = self._subscribers.get(job_id, [])
            if q in subscribers:
                subscribers.remove(q)
            if not subscribers:
                self._subscribers.pop(job_id, None)

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._drop(job_id)

    def tracked(self) -> int:
        """How many jobs' last events are held (what ``final_ttl``/``idle_ttl`` bound)."""
        with self._lock:
            self._expire(self._now())
            return len(self._latest)

    def _expire(self, now: float) -> None:
        for deadlines in (self._final_until, self._idle_until):
            while deadlines:
                job_id = next(iter(deadlines))
                if deadlines[job_id] > now:
                    break
                self._drop(job_id)

    def _drop(self, job_id: str) -> None:
        self._latest.pop(job_id, None)
        self._final_until.pop(job_id, None)
        self._idle_until.pop(job_id, None)


def make_hub(settings: Settings) -> ProgressHub:
    """Redis pub/sub when a shared Redis is configured (workers on other processes or
    machines), else the in-process hub."""
    url = settings.shared_redis_url
    if url is None:
        return MemoryProgressHub()
    from triptych.service.progress_redis import RedisProgressHub  # imports this module

    return RedisProgressHub.from_url(url)
