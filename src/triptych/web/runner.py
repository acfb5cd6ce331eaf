"""Submitting through the facade and handing jobs to the executor (the server's half of the
one road: ``Triptych.submit`` holds the credits, the executor's workers run ``run_job``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from triptych.client import Triptych
from triptych.web.deps import Principal
from triptych.web.present import FINAL
from triptych.web.state import WebState


def priority(principal: Principal) -> int:
    return 0 if principal.plan == "pro" else 1


def dispatch_all(state: WebState, principal: Principal,
                 jobs: list[dict[str, Any]]) -> dict[str, threading.Event]:
    """Queue the queued ones; returns each dispatched job's completion event."""
    return {job["id"]: state.executor.dispatch(job["id"], priority(principal))
            for job in jobs if job["status"] == "queued"}


def submit(state: WebState, tp: Triptych, principal: Principal, *,
           idempotency_key: str | None = None,
           **kwargs: Any) -> tuple[dict[str, Any], threading.Event | None]:
    job = tp.submit(idempotency_key=idempotency_key, **kwargs)
    events = dispatch_all(state, principal, [job])
    return job, events.get(job["id"])


def wait_final(tp: Triptych, job: dict[str, Any], done: threading.Event | None,
               timeout: float) -> dict[str, Any]:
    """Block until the job is final (or ``timeout``); returns the latest job dict.

    ``done`` is the executor's event from our own dispatch; without one (an idempotent
    replay of a job already running) the row is polled."""
    deadline = time.monotonic() + timeout
    while job["status"] not in FINAL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if done is not None and not done.is_set():
            done.wait(min(remaining, 1.0))
        else:
            time.sleep(min(remaining, 0.05))
        job = tp.job(job["id"])
    return job
