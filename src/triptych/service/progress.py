"""In-process progress events for running jobs (fraction done + an optional preview PNG).

Subscribers (the CLI progress bar, the API's event stream, the web UI) get every event
published after they subscribe, plus the latest one on subscription. Progress is transient:
the job row, not this hub, is the source of truth for a job's state.
"""

from __future__ import annotations

import io
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image


@dataclass
class ProgressEvent:
    job_id: str
    status: str  # running | succeeded | failed | canceled
    fraction: float
    preview_png: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ProgressHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, ProgressEvent] = {}
        self._subscribers: dict[str, list[queue.Queue[ProgressEvent]]] = {}

    def publish(self, event: ProgressEvent) -> None:
        with self._lock:
            self._latest[event.job_id] = event
            subscribers = list(self._subscribers.get(event.job_id, ()))
        for q in subscribers:
            q.put(event)

    def publish_progress(self, job_id: str, fraction: float, preview: Image.Image | None) -> None:
        png = None
        if preview is not None:
            buffer = io.BytesIO()
            preview.convert("RGB").save(buffer, format="PNG")
            png = buffer.getvalue()
        self.publish(ProgressEvent(job_id, "running", max(0.0, min(1.0, fraction)), png))

    def latest(self, job_id: str) -> ProgressEvent | None:
        with self._lock:
            return self._latest.get(job_id)

    def subscribe(self, job_id: str) -> queue.Queue[ProgressEvent]:
        q: queue.Queue[ProgressEvent] = queue.Queue()
        with self._lock:
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
            self._latest.pop(job_id, None)
