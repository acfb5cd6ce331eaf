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
from triptych.service.progress import ProgressEvent
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


async def job_events(request: Request, tp: Triptych, job: dict[str, Any]) -> AsyncIterator[str]:
    job_id = job["id"]
    q = WakingQueue(asyncio.get_running_loop())
    await run_in_threadpool(tp.subscribe, job_id, q)  # a shared hub makes a network call
    try:
        yield "retry: 2000\n\n"
        yield frame("job", job_out(job))
        if job["status"] in FINAL:
            yield frame("done", job_out(job))
            return
        now = last_sent = time.monotonic()
        next_check = now + RECHECK
        while True:
            got_final = False
            for ev in q.drain():
                yield frame("progress", progress_data(ev))
                last_sent = time.monotonic()
                got_final = got_final or ev.status in FINAL
            now = time.monotonic()
            if got_final or now >= next_check:
                job = await run_in_threadpool(tp.job, job_id)
                if job["status"] in FINAL:
                    yield frame("done", job_out(job))
                    return
                now = time.monotonic()
                next_check = now + RECHECK  # final events follow their commit: not reached
            if now - last_sent >= KEEPALIVE:
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
