"""``POST /v1/images/generations``: OpenAI's Images API, so the official ``openai`` package
works unchanged with ``base_url=http://host:port/v1`` and a Triptych API key.

The request goes through the same road as every other image (submit → hold → executor →
capture); the route waits for the job, then answers ``{created, data: [...]}`` with the
credits charged in ``x-triptych-credits-charged``. ``model`` is any catalog id (default: the
instant built-in model); ``response_format`` is ``b64_json`` (the default here, as for GPT
image models) or ``url`` (served by Triptych, owner only). Errors use OpenAI's shape; blocks
and out-of-credit answers carry ``x-should-retry: false`` so the client does not retry them.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from triptych.client import Triptych, raise_for_failure
from triptych.errors import InvalidRequest, JobFailed
from triptych.service.job_status import FINAL
from triptych.web import runner
from triptych.web.deps import CurrentUser, Principal, StateDep, UserTp
from triptych.web.errors import OPENAI_PATH
from triptych.web.idempotency import IdempotencyKey
from triptych.web.responses import openai_errors
from triptych.web.schemas import OpenAIImagesRequest, OpenAIImagesResponse
from triptych.web.state import WebState

log = logging.getLogger("triptych.web.openai")
router = APIRouter(tags=["openai-compatible"])


@router.post(OPENAI_PATH, response_model=OpenAIImagesResponse, responses=openai_errors(),
             response_model_exclude_none=True)
async def create_images(body: OpenAIImagesRequest, request: Request, response: Response,
                        principal: CurrentUser, tp: UserTp, state: StateDep,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Create images (OpenAI ``images.generate``)."""
    if (body.model_extra or {}).get("stream"):
        # Say so rather than answer JSON to a client waiting for an event stream.
        raise InvalidRequest("Streaming is not supported here; leave 'stream' unset.",
                             field="stream")
    # the database work runs in the thread pool; the wait for the image holds no thread
    job = await run_in_threadpool(_submit, body, state, tp, principal, idempotency_key)
    job = await runner.wait_final(tp, job, state.config.openai_wait_seconds)
    return await run_in_threadpool(_answer, body, request, response, tp, job)


def _submit(body: OpenAIImagesRequest, state: WebState, tp: Triptych, principal: Principal,
            idempotency_key: str | None) -> dict[str, Any]:
    model = body.model or state.tp.default_model()
    size = None if body.size in (None, "", "auto") else body.size
    return runner.submit(state, tp, principal, prompt=body.prompt, model=model, size=size,
                         n=body.n or 1, idempotency_key=idempotency_key)


def _answer(body: OpenAIImagesRequest, request: Request, response: Response, tp: Triptych,
            job: dict[str, Any]) -> dict[str, Any]:
    """The finished job in OpenAI's shape (or its error)."""
    if job["status"] not in FINAL:
        tp.cancel(job["id"])  # refunded; the client sees a server error it may retry
        raise JobFailed("The image took too long; nothing was charged.", job_id=job["id"],
                        reason="timeout")
    if body.user:
        log.info("openai-compatible job %s for end user %r", job["id"], body.user)
    raise_for_failure(job)
    data = []
    for image in job["images"]:
        if (body.response_format or "b64_json") == "url":
            item: dict[str, Any] = {"url": str(request.base_url).rstrip("/")
                                    + f"/v1/images/{image['id']}/content"}
        else:
            item = {"b64_json": base64.b64encode(tp.image_bytes(image["id"])).decode()}
        if image["record"].get("prompt") != body.prompt:
            item["revised_prompt"] = image["record"].get("prompt")
        data.append(item)
    response.headers["x-triptych-credits-charged"] = str(job["charged"])
    response.headers["x-triptych-job-id"] = job["id"]
    created = int(_timestamp(job["finished_at"] or job["created_at"]))
    return {"created": created, "data": data}


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()
