"""Server-Sent Events for a job's progress.

Events: ``job`` (a snapshot on connect), ``progress`` (``{status, fraction, preview}``, where
``preview`` is a PNG data URL when the engine sends one) and ``done`` (the final job), after
which the stream ends. The progress hub is transient; the job row decides when it is over, so
a job that finished before the client connected still ends the stream at once.

A stream sleeps until the hub puts an event in its queue (``WakingQueue``), the row is due
for a re-read (``RECHECK``) or a keep-alive is due: an idle stream costs no CPU and no thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import queue
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from triptych.client import Triptych
from triptych.service.job_status import FINAL
from triptych.service.progress import FINAL_JOB, ProgressEvent
from triptych.web.present import job_out

RECHECK = 2.0  # how often to re-read the job row when no event comes
KEEPALIVE = 15.0


class WakingQueue(queue.Queue[ProgressEvent]):
    """The hub's queue for one stream: every put (from a worker or listener thread) wakes the
    stream's event loop, so a stream waits without polling and without holding a thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.woken = asyncio.Event()

    def _put(self, item: ProgressEvent) -> None:
        super()._put(item)
        try:
            self._loop.call_soon_threadsafe(self.woken.set)
        except RuntimeError:  # the loop has closed: the stream is gone
            pass

    def drain(self) -> list[ProgressEvent]:
        self.woken.clear()  # before taking: a put after this wakes the next wait
        events = []
        with contextlib.suppress(queue.Empty):
            while True:
                events.append(self.get_nowait())
        return events


def frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def progress_data(ev: ProgressEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"status": ev.status, "fraction": round(ev.fraction, 4)}
    if ev.preview_png:
        data["preview"] = "data:image/png;base64," + base64.b64encode(ev.preview_png).decode()
    if ev.extra:
        data.update({k: v for k, v in ev.extra.items() if isinstance(v, str | int | float)})
    return data


def final_job(events: list[ProgressEvent], job_id: str) -> dict[str, Any] | None:
    """The finished job that a final event among ``events`` carries (``FINAL_JOB``), if any:
    whoever waits for the end then needs no read of the row."""
    for ev in events:
        carried = ev.extra.get(FINAL_JOB) if ev.status in FINAL else None
        if isinstance(carried, dict) and carried.get("id") == job_id:
            return carried
    return None


def open_job(tp: Triptych, job_id: str, q: WakingQueue) -> dict[str, Any]:
    """Subscribe ``q`` to the job, then read it (the owner check): one thread hop, and no
    event is lost between the read and the subscription."""
    tp.subscribe(job_id, q)  # a shared hub makes a network call
    try:
        return tp.job(job_id)
    except BaseException:
        tp.unsubscribe(job_id, q)
        raise


async def job_events(request: Request, tp: Triptych, job: dict[str, Any],
                     q: WakingQueue) -> AsyncIterator[str]:
    """The stream of a job ``open_job`` subscribed ``q`` to. What is ready at once goes out
    as one chunk (each chunk is a trip through the middleware and the socket)."""
    job_id = job["id"]
    try:
        head = "retry: 2000\n\n" + frame("job", job_out(job))
        if job["status"] in FINAL:
            yield head + frame("done", job_out(job))
            return
        yield head
        now = last_sent = time.monotonic()
        next_check = now + RECHECK
        while True:
            events = q.drain()
            chunk = "".join(frame("progress", progress_data(ev)) for ev in events)
            done = final_job(events, job_id)
            now = time.monotonic()
            if done is None and (now >= next_check or any(ev.status in FINAL for ev in events)):
                job = await run_in_threadpool(tp.job, job_id)
                if job["status"] in FINAL:
                    done = job
                now = time.monotonic()
                next_check = now + RECHECK  # final events follow their commit: not reached
            if done is not None:
                yield chunk + frame("done", job_out(done))
                return
            if chunk:
                yield chunk
                last_sent = now
            elif now - last_sent >= KEEPALIVE:
                yield ": keep-alive\n\n"
                last_sent = now
            if await request.is_disconnected():
                return
            wait = min(next_check, last_sent + KEEPALIVE) - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(q.woken.wait(), wait)
    finally:
        tp.unsubscribe(job_id, q)
