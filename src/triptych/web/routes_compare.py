"""``/v1/compare``: one prompt and seed on two to four models, side by side."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy import select

from triptych.client import Triptych
from triptych.db.models import Compare, Job
from triptych.errors import InvalidRequest, NotFound
from triptych.web import runner
from triptych.web.deps import CurrentUser, StateDep, UserTp
from triptych.web.present import FINAL, job_out
from triptych.web.responses import AUTH, GENERATE, errors
from triptych.web.routes_generations import IdempotencyKey
from triptych.web.schemas import CompareCreate, ComparePublic, KeeperUpdate

router = APIRouter(tags=["compare"])

CompareId = Annotated[str, Path(max_length=64)]


def _row(tp: Triptych, compare_id: str) -> tuple[Compare, list[str]]:
    with tp.ctx.sessions.begin() as s:
        compare = s.get(Compare, compare_id)
        if compare is None or compare.user_id != tp.user_id:
            raise NotFound(f"No comparison {compare_id}.")
        job_ids = list(s.scalars(select(Job.id).where(Job.compare_id == compare_id)
                                 .order_by(Job.created_at, Job.id)))
        s.expunge(compare)
        return compare, job_ids


def compare_status(tp: Triptych, compare_id: str) -> dict[str, Any]:
    """The comparison now; composes the labelled sheet once every model has finished."""
    compare, job_ids = _row(tp, compare_id)
    jobs = [tp.job(j) for j in job_ids]
    # Jobs of one comparison share a creation time; show them cheapest and fastest first.
    jobs.sort(key=lambda j: (tp.catalog.get(j["model"]).tier_rank, j["cost"], j["model"]))
    done = all(j["status"] in FINAL for j in jobs)
    sheet = compare.sheet_path
    if done and sheet is None and any(j["status"] == "succeeded" for j in jobs):
        result = tp.finish_compare(compare_id)
        sheet = str(result.sheet_path) if result.sheet_path else None
    return {
        "id": compare.id, "prompt": compare.prompt, "seed": compare.seed,
        "status": "done" if done else "running",
        "total_cost": sum(j["cost"] for j in jobs),
        "total_charged": sum(j["charged"] for j in jobs),
        "keeper_job_id": compare.keeper_job_id,
        "sheet_url": f"/v1/compare/{compare.id}/sheet" if sheet else None,
        "jobs": [job_out(j) for j in jobs],
    }


@router.post("/v1/compare", status_code=202, response_model=ComparePublic,
             responses=errors(*GENERATE))
def create_compare(body: CompareCreate, principal: CurrentUser, tp: UserTp, state: StateDep,
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Quote and hold every model's cost at once, then run them side by side."""
    seed = runner.idempotent_seed(principal, idempotency_key, body.seed)
    submitted = tp.submit_compare(body.prompt, body.models, seed=seed, size=body.size,
                                  idempotency_key=idempotency_key)
    runner.dispatch_all(state, principal, submitted["jobs"])
    return compare_status(tp, submitted["id"])


@router.get("/v1/compare/{compare_id}", response_model=ComparePublic,
            responses=errors(*AUTH, 404))
def get_compare(compare_id: CompareId, tp: UserTp) -> dict[str, Any]:
    return compare_status(tp, compare_id)


@router.post("/v1/compare/{compare_id}/keeper", response_model=ComparePublic,
             responses=errors(*AUTH, 404))
def mark_keeper(compare_id: CompareId, body: KeeperUpdate, tp: UserTp) -> dict[str, Any]:
    """Mark the result you keep (re-render it on a premium model with /v1/jobs/{id}/rerender)."""
    _, job_ids = _row(tp, compare_id)
    if body.job_id not in job_ids:
        raise InvalidRequest("That job is not part of this comparison.", field="job_id")
    with tp.ctx.sessions.begin() as s:
        compare = s.get(Compare, compare_id)
        assert compare is not None
        compare.keeper_job_id = body.job_id
    return compare_status(tp, compare_id)


@router.get("/v1/compare/{compare_id}/sheet", response_class=Response,
            responses={200: {"content": {"image/png": {"schema": {"type": "string",
                                                                  "format": "binary"}}},
                             "description": "The labelled side-by-side sheet."},
                       **errors(*AUTH, 404)})
def compare_sheet(compare_id: CompareId, tp: UserTp) -> Response:
    status = compare_status(tp, compare_id)
    compare, _ = _row(tp, compare_id)
    if status["sheet_url"] is None or not compare.sheet_path:
        raise NotFound("This comparison has no sheet yet.")
    data = FsPath(compare.sheet_path).read_bytes()
    return Response(data, media_type="image/png", headers={"Cache-Control": "private"})
