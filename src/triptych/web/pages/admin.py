"""The admin page: all jobs, granting credits, changing plans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.errors import TriptychError
from triptych.web import readable
from triptych.web.deps import StateDep, check_csrf
from triptych.web.pages.common import PageAdmin, render
from triptych.web.routes_admin import all_jobs

router = APIRouter()


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, state: StateDep, principal: PageAdmin, done: str = "",
               error: str = "") -> Response:
    now = state.now()
    jobs = all_jobs(state, limit=100, offset=0)
    for job in jobs:  # dates and model names as people read them
        job["when"] = readable.when(datetime.fromisoformat(job["created_at"]), now)
        catalog = state.tp.catalog
        job["model_name"] = catalog.get(job["model"]).name if job["model"] in catalog \
            else job["model"]
    return render(request, state, "admin.html", principal, jobs=jobs, done=done[:200],
                  error=error[:300])


@router.post("/admin/grant")
def admin_grant(request: Request, state: StateDep, principal: PageAdmin,
                email: Annotated[str, Form(max_length=320)],
                amount: Annotated[int, Form(ge=1, le=1_000_000)],
                reason: Annotated[str, Form(max_length=200)],
                csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        state.tp.grant(email, amount, reason=f"{reason.strip()} (by {principal.email})")
    except TriptychError as exc:
        return RedirectResponse(f"/admin?error={urlquote(exc.message)}", status_code=303)
    return RedirectResponse(f"/admin?done={urlquote(f'Granted {amount} to {email}.')}",
                            status_code=303)


@router.post("/admin/plan")
def admin_plan(request: Request, state: StateDep, principal: PageAdmin,
               email: Annotated[str, Form(max_length=320)], plan: Annotated[str, Form()],
               csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        state.tp.set_plan(email, plan)
    except TriptychError as exc:
        return RedirectResponse(f"/admin?error={urlquote(exc.message)}", status_code=303)
    return RedirectResponse(f"/admin?done={urlquote(f'{email} is now on the {plan} plan.')}",
                            status_code=303)
