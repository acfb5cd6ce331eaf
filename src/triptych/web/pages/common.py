"""Shared by the page modules: who is signed in, rendering with the header's balance, the
form CSRF tokens of the signed-out forms, and the catalog grouped by speed tier.

Forms that change state carry a CSRF token: the session's token once signed in, and before
that a signed double-submit token (cookie + hidden field) for the log-in and sign-up forms."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature

from triptych.catalog.card import TIER_ORDER
from triptych.errors import TriptychError
from triptych.service.audit import Actor
from triptych.web.deps import Principal, StateDep, client_address, facade_for, resolve_principal
from triptych.web.errors import Forbidden, RateLimited, Unauthorized
from triptych.web.routes_catalog import models_public
from triptych.web.state import WebState

FORM_CSRF_COOKIE = "triptych_csrf"
FORM_CSRF_MAX_AGE = 2 * 3600
TIER_LABELS = {"instant": "Instant (about a second)", "fast": "Fast (under 10 s)",
               "medium": "Medium (under 30 s)", "premium": "Premium (best quality, slowest)"}


def optional_user(request: Request, state: StateDep) -> Principal | None:
    principal = resolve_principal(request, state)
    request.state.page_user = principal
    return principal


async def require_user(principal: Annotated[Principal | None, Depends(optional_user)]) -> Principal:
    if principal is None:
        raise Unauthorized("Please sign in.")
    return principal


MaybeUser = Annotated[Principal | None, Depends(optional_user)]
PageUser = Annotated[Principal, Depends(require_user)]


def render(request: Request, state: WebState, template: str, principal: Principal | None,
           status_code: int = 200, **context: Any) -> HTMLResponse:
    balance = None
    if principal is not None:
        balance = facade_for(state, principal).credits(statement=False)
    return state.templates.TemplateResponse(
        request, template,
        {"user": principal, "balance": balance, "page": template.removesuffix(".html"),
         "csrf_token": principal.csrf_token if principal else None, **context},
        status_code=status_code)


def safe_next(target: str | None) -> str:
    """Only same-site paths (no open redirect through ``?next=``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/create"


def form_csrf_pair(state: WebState) -> tuple[str, str]:
    token = secrets.token_urlsafe(24)
    return token, state.csrf_signer.dumps(token)


def anonymous_form(request: Request, state: WebState, template: str, status_code: int = 200,
                   **context: Any) -> HTMLResponse:
    token, signed = form_csrf_pair(state)
    response = render(request, state, template, None, status_code=status_code,
                      form_csrf=token, **context)
    response.set_cookie(FORM_CSRF_COOKIE, signed, max_age=FORM_CSRF_MAX_AGE, httponly=True,
                        samesite="strict", secure=state.config.secure_cookies, path="/")
    return response


def check_form_csrf(request: Request, state: WebState, sent: str) -> None:
    try:
        expected = state.csrf_signer.loads(request.cookies.get(FORM_CSRF_COOKIE, ""),
                                           max_age=FORM_CSRF_MAX_AGE)
    except BadSignature:
        expected = ""
    if not expected or not hmac.compare_digest(str(expected), sent or ""):
        raise Forbidden("The form expired; reload the page and try again.")


def limit_auth(request: Request, state: WebState) -> None:
    retry_after = state.auth_limiter.hit(f"auth:{client_address(request)}")
    if retry_after is not None:
        raise RateLimited(f"Too many attempts; try again in {retry_after} s.",
                          retry_after=retry_after)


def grouped_models(state: WebState) -> list[tuple[str, str, list[dict[str, Any]]]]:
    models = models_public(state.tp.models())
    groups = []
    for tier in sorted(TIER_ORDER, key=TIER_ORDER.get):
        members = [m for m in models if m["tier"] == tier]
        if members:
            groups.append((tier, TIER_LABELS[tier], members))
    return groups


def default_model(state: WebState) -> str | None:
    try:
        return state.tp.default_model()
    except TriptychError:
        return None


async def require_admin(principal: PageUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This page is for admin accounts.")
    return principal


PageAdmin = Annotated[Principal, Depends(require_admin)]


def actor(principal: Principal) -> Actor:
    """The admin behind a request, as the audit log records them."""
    return Actor(principal.user_id, principal.email)


def back(path: str, *, done: str = "", error: str = "") -> RedirectResponse:
    """Post-redirect-get to an admin page with what happened (or went wrong) to show."""
    query = urlencode({k: v for k, v in (("done", done), ("error", error)) if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)
