"""The create page and a job's own page."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from triptych.web.deps import StateDep, facade_for
from triptych.web.pages.common import PageUser, default_model, grouped_models, render
from triptych.web.present import job_out

router = APIRouter()


@router.get("/create", response_class=HTMLResponse)
def create_page(request: Request, state: StateDep, principal: PageUser,
                prompt: str = "", model: str = "", seed: str = "", size: str = "",
                welcome: bool = False) -> Response:
    return render(request, state, "create.html", principal, groups=grouped_models(state),
                  selected=model or default_model(state), prompt=prompt[:2000],
                  seed=seed[:12], size=size[:20], welcome=welcome)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, state: StateDep, principal: PageUser,
             job_id: Annotated[str, Path(max_length=64)]) -> Response:
    job = job_out(facade_for(state, principal).job(job_id))
    card = state.tp.catalog.get(job["model"])
    record = job["images"][0]["record"] if job["images"] else {}
    return render(request, state, "job.html", principal, job=job, card=card,
                  groups=grouped_models(state),
                  record_json=json.dumps(record, indent=2, ensure_ascii=False))
