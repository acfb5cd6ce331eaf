"""The admin overview: every account's latest jobs, granting credits and changing plans. The
other admin pages (users, usage, providers, catalog, audit log) live in ``admin_*.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from triptych.errors import TriptychError
from triptych.web import readable
from triptych.web.deps import StateDep, check_csrf
from triptych.web.pages.common import PageAdmin, actor, back, render, safe_next
from triptych.web.routes_admin import all_jobs

router = APIRouter()


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, state: StateDep, principal: PageAdmin, done: str = "",
               error: str = "") -> Response:
    now = state.now()
    jobs = all_jobs(state, limit=100, offset=0)
    catalog = state.tp.catalog
    for job in jobs:  # dates and model names as people read them
        job["when"] = readable.when(datetime.fromisoformat(job["created_at"]), now)
        job["model_name"] = catalog.get(job["model"]).name if job["model"] in catalog \
            else job["model"]
    plans = [(plan.id, plan.name) for plan in state.tp.plans().plans.values()]
    return render(request, state, "admin.html", principal, jobs=jobs, done=done[:200],
                  error=error[:300], plans=plans)


@router.post("/admin/grant")
def admin_grant(request: Request, state: StateDep, principal: PageAdmin,
                email: Annotated[str, Form(max_length=320)],
                amount: Annotated[int, Form(ge=1, le=1_000_000)],
                reason: Annotated[str, Form(max_length=200)],
                csrf_token: Annotated[str, Form()] = "",
                next: Annotated[str, Form(max_length=200)] = "/admin") -> Response:
    check_csrf(request, principal, csrf_token)
    to = safe_next(next) if next.startswith("/admin") else "/admin"
    try:
        state.tp.grant(email, amount, reason=f"{reason.strip()} (by {principal.email})",
                       actor=actor(principal))
    except TriptychError as exc:
        return back(to, error=exc.message)
    return back(to, done=f"Granted {amount} to {email}.")


@router.post("/admin/plan")
def admin_plan(request: Request, state: StateDep, principal: PageAdmin,
               email: Annotated[str, Form(max_length=320)], plan: Annotated[str, Form()],
               csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        old = state.tp.accounts.by_email(email).plan
        state.tp.set_plan(email, plan)
        if old != plan:
            state.tp.admin.record(actor(principal), "user.plan", email.strip().lower(), old,
                                  plan)
    except TriptychError as exc:
        return back("/admin", error=exc.message)
    return back("/admin", done=f"{email} is now on the {plan} plan.")
