"""``/v1/admin``: grant credits, change plans, see every job, change a model's price and
availability, read the audit log. Admin accounts only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from triptych.errors import NotFound
from triptych.service.admin import CatalogRow
from triptych.service.audit import ACTIONS, Actor
from triptych.service.job_view import job_public
from triptych.web.deps import AdminUser, StateDep
from triptych.web.present import job_out
from triptych.web.responses import AUTH, errors
from triptych.web.schemas import (
    AdminJobsPage,
    AdminModel,
    AuditPage,
    CreditsPublic,
    GrantCreate,
    ModelOverrideUpdate,
    PlanUpdate,
)

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


def model_out(row: CatalogRow) -> dict[str, Any]:
    out = asdict(row)
    out["updated_at"] = row.updated_at.isoformat(timespec="seconds") if row.updated_at else None
    return out


@router.get("/v1/admin/models", response_model=list[AdminModel], responses=errors(*AUTH))
def list_model_overrides(admin: AdminUser, state: StateDep) -> list[dict[str, Any]]:
    """Every model's card price and switch beside what applies now."""
    return [model_out(row) for row in state.tp.admin.catalog()]


@router.patch("/v1/admin/models/{model_id}", response_model=AdminModel,
              responses=errors(*AUTH, 404))
def change_model(body: ModelOverrideUpdate, admin: AdminUser, state: StateDep,
                 model_id: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
    """Change a model's price and/or switch for new jobs; held jobs keep their price."""
    who = Actor(admin.user_id, admin.email)
    row = None
    if body.credits is not None:
        row = state.tp.admin.set_price(model_id, body.credits, who)
    if body.enabled is not None:
        row = state.tp.admin.set_enabled(model_id, body.enabled, who)
    if row is None:
        row = next((r for r in state.tp.admin.catalog() if r.id == model_id), None)
        if row is None:
            raise NotFound(f"There is no model '{model_id}'.", field="model")
    return model_out(row)


@router.delete("/v1/admin/models/{model_id}/override", response_model=AdminModel,
               responses=errors(*AUTH, 404))
def reset_model(admin: AdminUser, state: StateDep,
                model_id: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
    """Drop a model's run-time change: its card's price and switch apply again."""
    return model_out(state.tp.admin.reset_model(model_id, Actor(admin.user_id, admin.email)))


@router.get("/v1/admin/audit", response_model=AuditPage, responses=errors(*AUTH))
def audit_log(
    admin: AdminUser, state: StateDep,
    action: Annotated[Literal[tuple(ACTIONS)] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Every admin action, newest first."""
    items, total = state.tp.admin.audit(limit=limit, offset=offset, action=action)
    return {"items": items, "total": total, "limit": limit, "offset": offset}
