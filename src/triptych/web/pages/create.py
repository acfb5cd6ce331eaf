"""The create page and a job's own page."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from triptych.service.requests import MAX_PROMPT_CHARS
from triptych.web.deps import StateDep, facade_for
from triptych.web.pages.common import PageUser, default_model, grouped_models, render
from triptych.web.present import job_out

router = APIRouter()

STATUS_LABELS = {"queued": "Queued", "running": "Running", "succeeded": "Done",
                 "failed": "Failed", "canceled": "Cancelled"}


@router.get("/create", response_class=HTMLResponse)
def create_page(request: Request, state: StateDep, principal: PageUser,
                prompt: str = "", model: str = "", seed: str = "", size: str = "",
                welcome: bool = False) -> Response:
    return render(request, state, "create.html", principal, groups=grouped_models(state),
                  selected=model or default_model(state), prompt=prompt[:MAX_PROMPT_CHARS],
                  seed=seed[:12], size=size[:20], welcome=welcome, job=None)


def stage_text(job: dict, name: str) -> str:
    """What the stage says before its script runs (and without one)."""
    if job["status"] in ("queued", "running"):
        return f"{STATUS_LABELS[job['status']]} on {name} · held {job['cost']} credits"
    if job["status"] == "succeeded":
        return f"Seed {job['seed']} · {job['size']} · {job['charged']} credits"
    if job["status"] == "canceled":
        return f"Cancelled — {job['cost']} credits refunded."
    return (job.get("error") or {}).get("message") or "Failed. Nothing was charged."


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, state: StateDep, principal: PageUser,
             job_id: Annotated[str, Path(max_length=64)]) -> Response:
    tp = facade_for(state, principal)
    job = job_out(tp.job(job_id))
    card = state.tp.catalog.get(job["model"])
    record = job["images"][0]["record"] if job["images"] else {}
    names = {c.id: c.name for c in state.tp.catalog}
    return render(request, state, "job.html", principal, job=job, card=card,
                  choices=tp.rerender_choices(job_id), status_label=STATUS_LABELS[job["status"]],
                  stage_text=stage_text(job, card.name), model_names=names,
                  record_json=json.dumps(record, indent=2, ensure_ascii=False))
