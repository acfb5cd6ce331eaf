"""``/v1/keys``: API keys for programs (the secret is returned once, in ``key``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response

from triptych.web.deps import CurrentUser, StateDep
from triptych.web.responses import AUTH, errors
from triptych.web.schemas import KeyCreate, KeyCreated, KeyPublic

router = APIRouter(tags=["keys"])


@router.get("/v1/keys", response_model=list[KeyPublic], responses=errors(*AUTH))
def list_keys(principal: CurrentUser, state: StateDep) -> list[dict[str, Any]]:
    """Your active keys (prefix, created and last-used times; never the secret)."""
    return state.tp.accounts.keys(principal.user_id)


@router.post("/v1/keys", status_code=201, response_model=KeyCreated, responses=errors(*AUTH))
def create_key(body: KeyCreate, principal: CurrentUser, state: StateDep) -> dict[str, Any]:
    key, secret = state.tp.accounts.create_key(principal.user_id, body.name,
                                               monthly_cap=body.monthly_cap)
    return {**key, "key": secret}


@router.delete("/v1/keys/{key_id}", status_code=204, responses=errors(*AUTH, 404))
def revoke_key(principal: CurrentUser, state: StateDep,
               key_id: str = Path(max_length=64)) -> Response:
    """Revoke a key; it stops working at once. Another user's key is not found."""
    state.tp.accounts.revoke_key(principal.user_id, key_id)
    return Response(status_code=204)
