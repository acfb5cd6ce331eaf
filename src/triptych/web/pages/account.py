"""The account page: API keys and content settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.errors import InvalidRequest, TriptychError
from triptych.web import key_flash, readable
from triptych.web.deps import Principal, StateDep, check_csrf, facade_for
from triptych.web.pages.common import PageUser, render
from triptych.web.state import WebState

router = APIRouter()


def _account(request: Request, state: WebState, principal: Principal,
             **extra: Any) -> HTMLResponse:
    user = state.tp.accounts.member(principal.user_id)
    keys = state.tp.accounts.keys(principal.user_id)
    now = state.now()
    for key in keys:  # the dates as people say them; the ISO ones stay in the API
        key["created_words"] = readable.when(datetime.fromisoformat(key["created_at"]), now)
        used = key["last_used_at"]
        key["used_words"] = readable.when(datetime.fromisoformat(used), now) if used else "never"
    return render(request, state, "account.html", principal, account=user, keys=keys,
                  plan=state.tp.plan_of(user.plan),
                  mail=state.tp.settings.smtp_url is not None,
                  verification_required=state.tp.settings.verification_required, **extra)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, state: StateDep, principal: PageUser) -> Response:
    flash = Response()
    fresh = key_flash.take(request, flash)
    extra: dict[str, Any] = {}
    if fresh is not None:
        key_id, secret = fresh
        # Only a live key of this account (not one revoked since) is worth showing.
        meta = state.tp.accounts.live_key(principal.user_id, key_id)
        if meta is not None:
            extra = {"new_key": secret, "new_key_meta": meta}
    response = _account(request, state, principal, **extra)
    response.headers["Cache-Control"] = "no-store"  # the page may hold a secret
    for value in flash.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


@router.post("/account/keys", response_class=HTMLResponse)
def account_create_key(request: Request, state: StateDep, principal: PageUser,
                       name: Annotated[str, Form(max_length=100)] = "",
                       monthly_cap: Annotated[str, Form(max_length=12)] = "",
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        cap = _cap(monthly_cap)
        key, secret = state.tp.accounts.create_key(principal.user_id, name, monthly_cap=cap)
        key_id = key["id"]
    except TriptychError as exc:
        return _account(request, state, principal, error=exc.message, status_code=422)
    # Post-redirect-get: the secret waits in an encrypted, session-bound cookie for the one
    # page view that shows it; a reload of that page creates nothing and shows nothing.
    response = RedirectResponse("/account", status_code=303)
    key_flash.stash(request, response, key_id, secret, state.config.secure_cookies)
    return response


def _cap(text: str) -> int | None:
    """The form's spend cap: empty is no cap."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidRequest("A monthly spend cap is a whole number of credits; leave it "
                             "empty for no cap.", field="monthly_cap")
    return int(text)


@router.post("/account/keys/{key_id}/revoke")
def account_revoke_key(request: Request, state: StateDep, principal: PageUser,
                       key_id: Annotated[str, Path(max_length=64)],
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    state.tp.accounts.revoke_key(principal.user_id, key_id)
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


@router.post("/account/verification")
def account_resend_verification(request: Request, state: StateDep, principal: PageUser,
                                csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    state.tp.account_email.resend_verification(principal.user_id)
    return RedirectResponse("/account?verification_sent=1", status_code=303)
