"""``/v1/auth``: sign up, log in and log out (cookie session), and ``/v1/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from triptych.errors import InvalidRequest
from triptych.service.users import normalise_email
from triptych.web import sessions as sessions_mod
from triptych.web.deps import (
    CurrentUser,
    StateDep,
    check_csrf,
    client_address,
    facade_for,
    resolve_principal,
)
from triptych.web.errors import RateLimited, Unauthorized
from triptych.web.responses import errors
from triptych.web.schemas import AccountUpdate, AuthResult, LoginRequest, SignupCreate, UserPublic
from triptych.web.state import WebState

router = APIRouter(tags=["accounts"])


def _limit_auth(state: WebState, request: Request) -> None:
    retry_after = state.auth_limiter.hit(f"auth:{client_address(request)}")
    if retry_after is not None:
        raise RateLimited(f"Too many sign-in attempts; try again in {retry_after} s.",
                          retry_after=retry_after)


def _require_json(request: Request) -> None:
    # A cross-site HTML form cannot send application/json without a CORS preflight, so this
    # closes log-in CSRF for the JSON endpoints (the HTML forms carry a token instead).
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidRequest("Send a JSON body (Content-Type: application/json).",
                             field="content-type")


def set_session_cookie(state: WebState, response: Response, token: str) -> None:
    response.set_cookie(sessions_mod.COOKIE, token, max_age=state.config.session_days * 86400,
                        httponly=True, samesite="lax", secure=state.config.secure_cookies,
                        path="/")


def signup_user(state: WebState, email: str, password: str) -> tuple[dict[str, Any], str, str]:
    """Create the account (free plan, this month's allowance) and a session for it."""
    email = normalise_email(email)
    password_hash = state.passwords.hash(password)  # slow on purpose: outside the transaction
    signed = state.tp.accounts.sign_up(email, password_hash, days=state.config.session_days)
    return signed.member.public(), signed.token, signed.csrf_token


def login_user(state: WebState, email: str, password: str) -> tuple[dict[str, Any], str, str]:
    try:
        email = normalise_email(email)
    except InvalidRequest:
        email = ""
    found = state.tp.accounts.password_hash(email) if email else None
    stored = found[1] if found is not None else None
    if not state.passwords.verify(stored, password) or found is None:
        raise Unauthorized("Wrong email or password.")
    new_hash = (state.passwords.hash(password)
                if state.passwords.needs_rehash(stored or "") else None)
    signed = state.tp.accounts.sign_in(found[0], days=state.config.session_days,
                                       new_hash=new_hash)
    return signed.member.public(), signed.token, signed.csrf_token


@router.post("/v1/auth/signup", status_code=201, response_model=AuthResult,
             responses=errors(422, 429))
def signup(body: SignupCreate, request: Request, response: Response,
           state: StateDep) -> dict[str, Any]:
    """Create an account on the free plan and sign in (sets the session cookie)."""
    _require_json(request)
    _limit_auth(state, request)
    user, token, csrf = signup_user(state, body.email, body.password)
    set_session_cookie(state, response, token)
    return {"user": user, "csrf_token": csrf}


@router.post("/v1/auth/login", response_model=AuthResult, responses=errors(401, 422, 429))
def login(body: LoginRequest, request: Request, response: Response,
          state: StateDep) -> dict[str, Any]:
    """Sign in with email and password (sets the session cookie)."""
    _require_json(request)
    _limit_auth(state, request)
    user, token, csrf = login_user(state, body.email, body.password)
    set_session_cookie(state, response, token)
    return {"user": user, "csrf_token": csrf}


@router.post("/v1/auth/logout", status_code=204, responses=errors(401, 403))
def logout(request: Request, state: StateDep) -> Response:
    """End the browser session (a no-op for API keys; revoke a key with DELETE /v1/keys)."""
    principal = resolve_principal(request, state)
    response = Response(status_code=204)
    token = request.cookies.get(sessions_mod.COOKIE)
    if principal is not None and principal.via == "session" and token:
        check_csrf(request, principal)
        state.tp.accounts.sign_out(token)
    response.delete_cookie(sessions_mod.COOKIE, path="/")
    return response


@router.get("/v1/me", response_model=UserPublic, responses=errors(401, 429))
def me(principal: CurrentUser, state: StateDep) -> dict[str, Any]:
    return state.tp.accounts.member(principal.user_id).public()


@router.patch("/v1/me", response_model=UserPublic, responses=errors(401, 403, 422, 429))
def update_me(body: AccountUpdate, principal: CurrentUser, state: StateDep) -> dict[str, Any]:
    """Opt in to (or out of) unrestricted content mode; pro accounts only."""
    facade_for(state, principal).set_unrestricted(body.unrestricted_opt_in)
    return me(principal, state)
