"""The account page: API keys and content settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.db.models import User
from triptych.errors import TriptychError
from triptych.web import keys as keys_mod
from triptych.web.deps import Principal, StateDep, check_csrf, facade_for
from triptych.web.pages.common import PageUser, render
from triptych.web.state import WebState

router = APIRouter()


def _account(request: Request, state: WebState, principal: Principal,
             **extra: Any) -> HTMLResponse:
    with state.tp.ctx.sessions.begin() as s:
        user = s.get(User, principal.user_id)
        keys = [keys_mod.key_public(k) for k in keys_mod.list_keys(s, principal.user_id)]
        assert user is not None
        s.expunge(user)
    return render(request, state, "account.html", principal, account=user, keys=keys, **extra)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, state: StateDep, principal: PageUser) -> Response:
    return _account(request, state, principal)


@router.post("/account/keys", response_class=HTMLResponse)
def account_create_key(request: Request, state: StateDep, principal: PageUser,
                       name: Annotated[str, Form(max_length=100)] = "",
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    with state.tp.ctx.sessions.begin() as s:
        user = s.get(User, principal.user_id)
        assert user is not None
        row, secret = keys_mod.create_key(s, user, name, state.now())
        created = keys_mod.key_public(row)
    # Rendered, not redirected: the secret must not travel in a URL or be shown twice.
    response = _account(request, state, principal, new_key=secret, new_key_meta=created)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/keys/{key_id}/revoke")
def account_revoke_key(request: Request, state: StateDep, principal: PageUser,
                       key_id: Annotated[str, Path(max_length=64)],
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    with state.tp.ctx.sessions.begin() as s:
        keys_mod.revoke_key(s, principal.user_id, key_id, state.now())
    return RedirectResponse("/account?revoked=1", status_code=303)


@router.post("/account/content-mode", response_class=HTMLResponse)
def account_content_mode(request: Request, state: StateDep, principal: PageUser,
                         unrestricted: Annotated[str, Form()] = "off",
                         csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        facade_for(state, principal).set_unrestricted(unrestricted == "on")
    except TriptychError as exc:
        return _account(request, state, principal, error=exc.message)
    return RedirectResponse("/account?saved=1", status_code=303)
