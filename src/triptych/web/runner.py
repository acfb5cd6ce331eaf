"""Submitting through the facade and handing jobs to the executor (the server's half of the
one road: ``Triptych.submit`` holds the credits, the executor's workers run ``run_job``)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from starlette.concurrency import run_in_threadpool

from triptych.client import Triptych
from triptych.service.job_status import FINAL, QUEUED
from triptych.web.deps import Principal
from triptych.web.state import WebState


def priority(state: WebState, principal: Principal) -> int:
    """The queue priority of the principal's plan (lower is served first)."""
    return state.tp.plan_of(principal.plan).priority


def dispatch_all(state: WebState, principal: Principal,
                 jobs: list[dict[str, Any]]) -> dict[str, threading.Event]:
    """Queue the queued ones; returns each dispatched job's completion event."""
    return {job["id"]: state.executor.dispatch(job["id"], priority(state, principal),
                                              job["model"])
            for job in jobs if job["status"] == QUEUED}


def submit(state: WebState, tp: Triptych, principal: Principal, *,
           idempotency_key: str | None = None, **kwargs: Any) -> dict[str, Any]:
    job = tp.submit(idempotency_key=idempotency_key, **kwargs)
    dispatch_all(state, principal, [job])
    return job


RECHECK = 1.0  # seconds between two reads of the row while no final event comes


async def wait_final(tp: Triptych, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Wait until the job is final (or ``timeout``) and return the latest job dict.

    The wait holds no thread (a thread-pool slot held for a whole generation would starve
    the short requests): the progress hub's final event, from the embedded executor or any
    worker, wakes it and carries the finished job; the row is re-read every ``RECHECK``
    seconds meanwhile."""
    from triptych.web.sse import WakingQueue, final_job, open_job  # the SSE stream's wake-up

    if job["status"] in FINAL:  # an idempotent replay of a finished job
        return job
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    job_id = job["id"]
    events = WakingQueue(loop)
    job = await run_in_threadpool(open_job, tp, job_id, events)  # it may have ended already
    try:
        next_check = loop.time() + RECHECK
        while job["status"] not in FINAL:
            drained = events.drain()
            now = loop.time()
            if (done := final_job(drained, job_id)) is not None:
                return done
            if now >= next_check or any(ev.status in FINAL for ev in drained):
                job = await run_in_threadpool(tp.job, job_id)
                now = loop.time()
                next_check = now + RECHECK
                continue
            if now >= deadline:
                return job
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(events.woken.wait(), min(next_check, deadline) - now)
        return job
    finally:
        tp.unsubscribe(job_id, events)
