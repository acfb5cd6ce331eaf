"""Request dependencies as ``Annotated`` aliases (FastAPI full-stack template style):
``StateDep`` (the server), ``CurrentUser`` (who is calling, from an API key or the browser
session; rate-limited; CSRF-checked for cookie writes), ``AdminUser``, ``UserTp`` (the
``Triptych`` facade acting as the caller)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from triptych.client import Triptych
from triptych.service.accounts import Member
from triptych.service.api_keys import KeyOwner
from triptych.web import sessions as sessions_mod
from triptych.web.client_ip import client_address  # noqa: F401  (the one source; re-exported)
from triptych.web.errors import Forbidden, RateLimited, Unauthorized
from triptych.web.state import WebState

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "X-CSRF-Token"

# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` one in the
# thread pool, a hop that costs more than the work and, under load, queues behind requests.
async def get_state(request: Request) -> WebState:
    return request.app.state.web


StateDep = Annotated[WebState, Depends(get_state)]


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    role: str
    plan: str
    unrestricted_opt_in: bool
    via: str  # "key" | "session"
    key_id: str | None = None
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def limit_key(self) -> str:
        return f"key:{self.key_id}" if self.key_id else f"user:{self.user_id}"


def _principal(user: Member | KeyOwner, via: str, **extra: str | None) -> Principal:
    return Principal(user_id=user.id, email=user.email, role=user.role, plan=user.plan,
                     unrestricted_opt_in=user.unrestricted_opt_in, via=via, **extra)


def resolve_principal(request: Request, state: WebState) -> Principal | None:
    """Who is calling, or None. A bad key is an error (never silently falls back)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    principal = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send your API key as 'Authorization: Bearer tpk_…'.")
        owner = state.tp.accounts.authenticate(token.strip())
        if owner is None:
            raise Unauthorized("This API key is not valid (unknown or revoked, or its account "
                               "is disabled).")
        principal = _principal(owner, "key", key_id=owner.key_id)
    else:
        token = request.cookies.get(sessions_mod.COOKIE)
        if token:
            found = state.tp.accounts.session(token)
            if found is not None:
                member, csrf = found
                principal = _principal(member, "session", csrf_token=csrf)
    request.state.principal = principal
    return principal


def check_csrf(request: Request, principal: Principal, form_token: str | None = None) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token (header or form)."""
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    sent = form_token or request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, principal.csrf_token or ""):
        raise Forbidden("Missing or wrong CSRF token; reload the page and try again.",
                        field=CSRF_HEADER)


def current_user(request: Request) -> Principal:
    """Who is calling (the OpenAPI document says how: ``openapi_security``). No sub-
    dependencies: each one costs its resolution on every request."""
    state: WebState = request.app.state.web
    principal = resolve_principal(request, state)
    if principal is None:
        raise Unauthorized("Sign in, or send an API key as 'Authorization: Bearer tpk_…'.")
    retry_after = state.limiter.hit(principal.limit_key)
    if retry_after is not None:
        raise RateLimited(f"Too many requests; try again in {retry_after} s.",
                          retry_after=retry_after)
    check_csrf(request, principal)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def admin_user(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This needs an admin account.")
    return principal


AdminUser = Annotated[Principal, Depends(admin_user)]


def facade_for(state: WebState, principal: Principal) -> Triptych:
    # The account exists (we just authenticated it): no get-or-create round trip.
    return state.tp.as_user(principal.email, user_id=principal.user_id,
                            api_key_id=principal.key_id)


async def user_tp(request: Request, principal: CurrentUser) -> Triptych:
    return facade_for(request.app.state.web, principal)


UserTp = Annotated[Triptych, Depends(user_tp)]

