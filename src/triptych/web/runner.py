"""Submitting through the facade and handing jobs to the executor (the server's half of the
one road: ``Triptych.submit`` holds the credits, the executor's workers run ``run_job``)."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from triptych.client import Triptych
from triptych.errors import InvalidRequest, JobFailed, ModerationBlocked
from triptych.web.deps import Principal
from triptych.web.present import FINAL
from triptych.web.state import WebState

SEED_SPACE = 2**31


def idempotent_seed(principal: Principal, key: str | None, seed: int | None) -> int | None:
    """With an Idempotency-Key and no seed, derive the seed from the key: a retried request
    must resolve to the same request (the service fingerprints the resolved seed)."""
    if seed is not None or not key:
        return seed
    digest = hashlib.sha256(f"{principal.user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_SPACE


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
    kwargs["seed"] = idempotent_seed(principal, idempotency_key, kwargs.get("seed"))
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


def rerender_size(tp: Triptych, job: dict[str, Any], model: str) -> str:
    """Mirror of ``Triptych.rerender``'s size rule (keep the size if the new model takes it,
    else the new model's default scaled to the same aspect), so the HTTP path can submit
    asynchronously instead of blocking on ``rerender``."""
    card = tp.jobs.card(model)
    w, h = job["width"], job["height"]
    if not (card.min_width <= w <= card.max_width and card.min_height <= h <= card.max_height):
        scale = card.default_width / max(w, h)
        w = max(card.min_width, min(card.max_width, round(w * scale / 8) * 8))
        h = max(card.min_height, min(card.max_height, round(h * scale / 8) * 8))
    return f"{w}x{h}"


def raise_for_failure(job: dict[str, Any]) -> None:
    """Turn a failed or cancelled job into the service error that says why (refund done)."""
    if job["status"] == "succeeded":
        return
    error = job["error"] or {"code": job["status"], "message": f"The job was {job['status']}."}
    if error["code"] == "moderation_blocked":
        raise ModerationBlocked(error["message"], side=error.get("side") or "output",
                                job_id=job["id"])
    if error["code"] == "invalid_request":
        raise InvalidRequest(error["message"], field=error.get("field"), job_id=job["id"])
    raise JobFailed(error["message"], job_id=job["id"], reason=error["code"])
