"""Submitting through the facade and handing jobs to the executor (the server's half of the
one road: ``Triptych.submit`` holds the credits, the executor's workers run ``run_job``)."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

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
           idempotency_key: str | None = None,
           **kwargs: Any) -> tuple[dict[str, Any], threading.Event | None]:
    job = tp.submit(idempotency_key=idempotency_key, **kwargs)
    events = dispatch_all(state, principal, [job])
    return job, events.get(job["id"])


def wait_final(tp: Triptych, job: dict[str, Any], done: threading.Event | None,
               timeout: float) -> dict[str, Any]:
    """Block until the job is final (or ``timeout``); returns the latest job dict.

    ``done`` is the embedded executor's event from our own dispatch; without one (a job
    running in a Celery worker, or an idempotent replay of a job already running) the
    progress hub's final event wakes the wait, and the row is re-read every second."""
    deadline = time.monotonic() + timeout
    events = tp.subscribe(job["id"]) if done is None else None
    try:
        while job["status"] not in FINAL:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if done is not None:
                done.wait(min(remaining, 1.0))
            else:
                try:
                    events.get(timeout=min(remaining, 1.0))
                except queue.Empty:
                    pass
            job = tp.job(job["id"])
        return job
    finally:
        if events is not None:
            tp.unsubscribe(job["id"], events)
