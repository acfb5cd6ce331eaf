"""``/v1/compare``: one prompt and seed on two to four models, side by side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from triptych.client import Triptych
from triptych.service.recommend import kind_labels
from triptych.web import runner
from triptych.web.deps import CurrentUser, StateDep, UserTp
from triptych.web.idempotency import IdempotencyKey
from triptych.web.present import job_out
from triptych.web.responses import AUTH, GENERATE, errors
from triptych.web.schemas import (
    CompareCreate,
    ComparePublic,
    KeeperUpdate,
    PickCreate,
    PickPublic,
    WinRatesPublic,
)

router = APIRouter(tags=["compare"])

CompareId = Annotated[str, Path(max_length=64)]


def compare_status(tp: Triptych, compare_id: str) -> dict[str, Any]:
    """The comparison now (the facade composes the sheet once every model has finished)."""
    status = tp.compare_status(compare_id)
    sheet = status.pop("sheet_path")
    status["sheet_url"] = f"/v1/compare/{compare_id}/sheet" if sheet else None
    status["jobs"] = [job_out(j) for j in status["jobs"]]
    status["pick"] = tp.current_pick(compare_id)
    return status


@router.post("/v1/compare", status_code=202, response_model=ComparePublic,
             responses=errors(*GENERATE))
def create_compare(body: CompareCreate, principal: CurrentUser, tp: UserTp, state: StateDep,
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Quote and hold every model's cost at once, then run them side by side."""
    submitted = tp.submit_compare(body.prompt, body.models, seed=body.seed, size=body.size,
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
    tp.set_keeper(compare_id, body.job_id)
    return compare_status(tp, compare_id)


@router.post("/v1/compare/{compare_id}/pick", response_model=PickPublic,
             responses=errors(*AUTH, 404))
def pick(compare_id: CompareId, body: PickCreate, tp: UserTp) -> dict[str, Any]:
    """Store the image you chose (blind: with the model names hidden). Picking again
    replaces the earlier pick; your picks feed your win rates and the recommender."""
    return tp.pick(compare_id, body.job_id, blind=body.blind, shown=body.shown)


@router.get("/v1/picks", response_model=WinRatesPublic, responses=errors(*AUTH))
def win_rates(tp: UserTp) -> dict[str, Any]:
    """Your win rates from your picks: wins / times shown, per model and kind of prompt."""
    return picks_summary(tp)


def picks_summary(tp: Triptych) -> dict[str, Any]:
    names = {card.id: card.name for card in tp.catalog}
    return tp.win_rates().summary(names, kind_labels())


@router.get("/v1/compare/{compare_id}/sheet", response_class=Response,
            responses={200: {"content": {"image/png": {"schema": {"type": "string",
                                                                  "format": "binary"}}},
                             "description": "The labelled side-by-side sheet."},
                       **errors(*AUTH, 404)})
def compare_sheet(compare_id: CompareId, tp: UserTp) -> Response:
    data = tp.sheet_bytes(compare_id)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private"})
