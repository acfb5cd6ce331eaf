"""``/v1/admin``: grant credits, change plans, see every job. Admin accounts only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from triptych.client import job_public
from triptych.service.audit import Actor
from triptych.web.deps import AdminUser, StateDep
from triptych.web.present import job_out
from triptych.web.responses import AUTH, errors
from triptych.web.schemas import AdminJobsPage, CreditsPublic, GrantCreate, PlanUpdate

router = APIRouter(tags=["admin"])


@router.post("/v1/admin/credits", response_model=CreditsPublic, responses=errors(*AUTH))
def grant_credits(body: GrantCreate, admin: AdminUser, state: StateDep) -> dict[str, Any]:
    """Add purchased credits to an account (it goes on their statement with the reason)."""
    reason = f"{body.reason.strip()} (by {admin.email})"
    return state.tp.grant(body.email, body.amount, reason=reason,
                          actor=Actor(admin.user_id, admin.email))


@router.post("/v1/admin/plan", response_model=CreditsPublic, responses=errors(*AUTH, 404))
def change_plan(body: PlanUpdate, admin: AdminUser, state: StateDep) -> dict[str, Any]:
    old = state.tp.accounts.by_email(body.email).plan
    out = state.tp.set_plan(body.email, body.plan)
    if old != body.plan:
        state.tp.admin.record(Actor(admin.user_id, admin.email), "user.plan",
                              body.email.strip().lower(), old, body.plan)
    return out


def all_jobs(state: Any, *, limit: int, offset: int, status: str | None = None,
             email: str | None = None) -> list[dict[str, Any]]:
    rows = state.tp.accounts.all_jobs(limit=limit, offset=offset, status=status, email=email)
    return [{**job_out(job_public(job, images)), "user_email": owner}
            for job, images, owner in rows]


@router.get("/v1/admin/jobs", response_model=AdminJobsPage, responses=errors(*AUTH))
def list_all_jobs(
    admin: AdminUser, state: StateDep,
    status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Every account's jobs, newest first."""
    items = all_jobs(state, limit=limit + 1, offset=offset, status=status, email=email)
    more = len(items) > limit
    return {"items": items[:limit], "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None}
