"""Server-Sent Events for a job's progress.

Events: ``job`` (a snapshot on connect), ``progress`` (``{status, fraction, preview}``, where
``preview`` is a PNG data URL when the engine sends one) and ``done`` (the final job), after
which the stream ends. The progress hub is transient; the job row decides when it is over, so
a job that finished before the client connected still ends the stream at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from triptych.client import Triptych
from triptych.service.progress import ProgressEvent
from triptych.web.present import FINAL, job_out

POLL = 0.05  # how often to look at the hub's queue (no thread blocked per stream)
RECHECK = 2.0  # how often to re-read the job row when no event comes
KEEPALIVE = 15.0


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
    hub = tp.ctx.hub
    job_id = job["id"]
    q = hub.subscribe(job_id)
    try:
        yield "retry: 2000\n\n"
        yield frame("job", job_out(job))
        if job["status"] in FINAL:
            yield frame("done", job_out(job))
            return
        last_check = last_sent = time.monotonic()
        while True:
            got_final = False
            try:
                while True:
                    ev = q.get_nowait()
                    yield frame("progress", progress_data(ev))
                    last_sent = time.monotonic()
                    got_final = got_final or ev.status in FINAL
            except queue.Empty:
                pass
            now = time.monotonic()
            if got_final or now - last_check > RECHECK:
                last_check = now
                job = await run_in_threadpool(tp.job, job_id)
                if job["status"] in FINAL:
                    yield frame("done", job_out(job))
                    return
            if now - last_sent > KEEPALIVE:
                yield ": keep-alive\n\n"
                last_sent = now
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL)
    finally:
        hub.unsubscribe(job_id, q)
