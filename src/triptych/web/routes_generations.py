"""``/v1/generations`` and ``/v1/jobs``: submit (202 + quoted cost), follow, cancel, re-render,
vary, and every image of a job as one zip."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from triptych.web import runner
from triptych.web.deps import CurrentUser, StateDep, UserTp
from triptych.web.idempotency import IdempotencyKey
from triptych.web.present import accepted_out, job_out
from triptych.web.responses import AUTH, GENERATE, errors
from triptych.web.schemas import GenerationAccepted, GenerationCreate, JobPublic, RerenderCreate
from triptych.web.schemas_studio import RerenderChoices
from triptych.web.sse import WakingQueue, job_events, open_job
from triptych.web.zips import job_zip, zip_name

router = APIRouter(tags=["generations"])

JobId = Annotated[str, Path(max_length=64)]


# The two busiest routes are ``async def`` and make one thread hop for their blocking work:
# FastAPI runs a plain ``def`` route on the thread pool, then validates its answer there in a
# second hop.
@router.post("/v1/generations", status_code=202, response_model=GenerationAccepted,
             responses=errors(*GENERATE))
async def create_generation(body: GenerationCreate, response: Response,
                            principal: CurrentUser, tp: UserTp, state: StateDep,
                            idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Quote, hold the credits and queue the job; follow it at ``events_url``.

    With ``Idempotency-Key``: the same key and body answer with the original job (still
    running or finished); the same key with a different body is a 422."""
    job = await run_in_threadpool(
        runner.submit, state, tp, principal, idempotency_key=idempotency_key,
        prompt=body.prompt, model=body.model, seed=body.seed, size=body.size, n=body.n,
        steps=body.steps, content_mode=body.content_mode, options=body.options)
    response.headers["Location"] = f"/v1/jobs/{job['id']}"
    return accepted_out(job)


@router.get("/v1/jobs/{job_id}", response_model=JobPublic, responses=errors(*AUTH, 404))
async def get_job(job_id: JobId, tp: UserTp) -> dict[str, Any]:
    return job_out(await run_in_threadpool(tp.job, job_id))


@router.get("/v1/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "job, progress and done events"},
                       **errors(*AUTH, 404)})
async def job_event_stream(job_id: JobId, request: Request, tp: UserTp) -> StreamingResponse:
    """Server-Sent Events: ``job`` on connect, ``progress`` while it runs, ``done`` at the end."""
    events = WakingQueue(asyncio.get_running_loop())
    job = await run_in_threadpool(open_job, tp, job_id, events)  # owner check first

    async def unsubscribe() -> None:  # also when the stream never started (client gone)
        tp.unsubscribe(job_id, events)

    return StreamingResponse(job_events(request, tp, job, events),
                             media_type="text/event-stream", background=BackgroundTask(unsubscribe),
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobPublic, responses=errors(*AUTH, 404))
def cancel_job(job_id: JobId, tp: UserTp) -> dict[str, Any]:
    """Cancel: a queued job is refunded now, a running one when its engine returns."""
    return job_out(tp.cancel(job_id))


@router.post("/v1/jobs/{job_id}/rerender", status_code=202, response_model=GenerationAccepted,
             responses=errors(*GENERATE))
def rerender_job(job_id: JobId, body: RerenderCreate, response: Response,
                 principal: CurrentUser, tp: UserTp, state: StateDep) -> dict[str, Any]:
    """Render a job's prompt and seed again on another model (draft → final)."""
    job = tp.submit_rerender(job_id, body.model, size=body.size, seed=body.seed)
    runner.dispatch_all(state, principal, [job])
    response.headers["Location"] = f"/v1/jobs/{job['id']}"
    return accepted_out(job)


@router.get("/v1/jobs/{job_id}/rerender-choices", response_model=RerenderChoices,
            responses=errors(*AUTH, 404))
def rerender_choices(job_id: JobId, tp: UserTp) -> dict[str, Any]:
    """The models to render this job on next: better tiers first, the default recommended for
    the prompt; same-tier alternatives, then cheaper drafts, last."""
    return tp.rerender_choices(job_id)


@router.post("/v1/jobs/{job_id}/vary", status_code=202, response_model=GenerationAccepted,
             responses=errors(*GENERATE))
def vary_job(job_id: JobId, response: Response, principal: CurrentUser, tp: UserTp,
             state: StateDep) -> dict[str, Any]:
    """One more image of this job: same prompt, model and size, a new random seed."""
    job = tp.submit_variation(job_id)
    runner.dispatch_all(state, principal, [job])
    response.headers["Location"] = f"/v1/jobs/{job['id']}"
    return accepted_out(job)


@router.get("/v1/jobs/{job_id}/images.zip", response_class=Response,
            responses={200: {"content": {"application/zip": {"schema": {
                "type": "string", "format": "binary"}}},
                "description": "Every image of the job, as PNGs with their records."},
                **errors(*AUTH, 404)})
def job_images_zip(job_id: JobId, tp: UserTp) -> Response:
    """Download all: the job's images (those not deleted) in one zip (owner only)."""
    job = tp.job(job_id)
    data = job_zip(tp, job)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{zip_name(job)}"',
        "Cache-Control": "private, no-cache"})
