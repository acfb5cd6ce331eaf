"""``/v1/keys``: API keys for programs (the secret is returned once, in ``key``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response

from triptych.db.models import User
from triptych.web import keys as keys_mod
from triptych.web.deps import CurrentUser, StateDep
from triptych.web.responses import AUTH, errors
from triptych.web.schemas import KeyCreate, KeyCreated, KeyPublic

router = APIRouter(tags=["keys"])


@router.get("/v1/keys", response_model=list[KeyPublic], responses=errors(*AUTH))
def list_keys(principal: CurrentUser, state: StateDep) -> list[dict[str, Any]]:
    """Your active keys (prefix, created and last-used times; never the secret)."""
    with state.tp.ctx.sessions.begin() as s:
        return [keys_mod.key_public(k) for k in keys_mod.list_keys(s, principal.user_id)]


@router.post("/v1/keys", status_code=201, response_model=KeyCreated, responses=errors(*AUTH))
def create_key(body: KeyCreate, principal: CurrentUser, state: StateDep) -> dict[str, Any]:
    with state.tp.ctx.sessions.begin() as s:
        user = s.get(User, principal.user_id)
        assert user is not None
        row, secret = keys_mod.create_key(s, user, body.name, state.now())
        return {**keys_mod.key_public(row), "key": secret}


@router.delete("/v1/keys/{key_id}", status_code=204, responses=errors(*AUTH, 404))
def revoke_key(principal: CurrentUser, state: StateDep,
               key_id: str = Path(max_length=64)) -> Response:
    """Revoke a key; it stops working at once. Another user's key is not found."""
    with state.tp.ctx.sessions.begin() as s:
        keys_mod.revoke_key(s, principal.user_id, key_id, state.now())
    return Response(status_code=204)
