"""Signing in, signing up and signing out; confirming an address and resetting a password
through their emailed links.

A link's page (``/verify``, ``/reset``) only shows a form: the token is spent by the form's
POST, so a mail scanner that fetches every link in an email cannot use it up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.errors import TriptychError
from triptych.service.accounts import SignedIn
from triptych.web import sessions as sessions_mod
from triptych.web.deps import StateDep, check_csrf
from triptych.web.errors import Unauthorized
from triptych.web.pages.common import (
    FORM_CSRF_COOKIE,
    MaybeUser,
    anonymous_form,
    check_form_csrf,
    limit_auth,
    safe_next,
)
from triptych.web.routes_auth import (
    BAD_LINK,
    login_user,
    reset_password,
    set_session_cookie,
    signup_user,
)
from triptych.web.state import WebState

router = APIRouter()


def _signed_in_redirect(state: WebState, signed: SignedIn, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(state, response, signed.token)
    response.delete_cookie(FORM_CSRF_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(principal: MaybeUser) -> Response:
    return RedirectResponse("/create" if principal else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep, principal: MaybeUser,
               next: str = "/create") -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return anonymous_form(request, state, "login.html", next=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, state: StateDep, email: Annotated[str, Form()],
                 password: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "/create") -> Response:
    check_form_csrf(request, state, csrf_token)
    limit_auth(request, state)
    try:
        signed = login_user(state, email, password[:256])
    except Unauthorized as exc:
        return anonymous_form(request, state, "login.html", status_code=401,
                              error=exc.message, email=email, next=safe_next(next))
    return _signed_in_redirect(state, signed, safe_next(next))


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, state: StateDep, principal: MaybeUser) -> Response:
    if principal is not None:
        return RedirectResponse("/create", status_code=303)
    return anonymous_form(request, state, "signup.html",
                          min_length=state.tp.settings.password_min_length)


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(request: Request, state: StateDep, email: Annotated[str, Form()],
                  password: Annotated[str, Form()],
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    check_form_csrf(request, state, csrf_token)
    limit_auth(request, state)
    try:
        signed = signup_user(state, request, email, password)
    except TriptychError as exc:
        if exc.http_status == 429:
            raise
        return anonymous_form(request, state, "signup.html", status_code=422,
                              error=exc.message, email=email,
                              min_length=state.tp.settings.password_min_length)
    if signed is None:  # continues by email; the same answer for a new or a taken address
        response = RedirectResponse("/signup/check-email", status_code=303)
        response.delete_cookie(FORM_CSRF_COOKIE, path="/")
        return response
    return _signed_in_redirect(state, signed, "/create?welcome=1")


@router.get("/signup/check-email", response_class=HTMLResponse)
def check_email_page(request: Request, state: StateDep) -> Response:
    return anonymous_form(request, state, "check_email.html")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # the page holds a link's secret
    return response


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, state: StateDep, token: str = "") -> Response:
    return _no_store(anonymous_form(request, state, "verify.html", token=token[:100]))


@router.post("/verify", response_class=HTMLResponse)
def verify_submit(request: Request, state: StateDep, token: Annotated[str, Form()] = "",
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    check_form_csrf(request, state, csrf_token)
    limit_auth(request, state)
    signed = state.tp.account_email.verify(token, days=state.config.session_days)
    if signed is None:
        return anonymous_form(request, state, "verify.html", status_code=400, error=BAD_LINK,
                              token="")
    return _signed_in_redirect(state, signed, "/create?welcome=1")


@router.get("/forgot", response_class=HTMLResponse)
def forgot_page(request: Request, state: StateDep) -> Response:
    return anonymous_form(request, state, "forgot.html",
                          mail=state.tp.settings.smtp_url is not None)


@router.post("/forgot", response_class=HTMLResponse)
def forgot_submit(request: Request, state: StateDep, email: Annotated[str, Form()] = "",
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    check_form_csrf(request, state, csrf_token)
    limit_auth(request, state)
    state.tp.account_email.request_reset(email[:320])
    response = RedirectResponse("/forgot?sent=1", status_code=303)  # the same for everyone
    response.delete_cookie(FORM_CSRF_COOKIE, path="/")
    return response


@router.get("/reset", response_class=HTMLResponse)
def reset_page(request: Request, state: StateDep, token: str = "") -> Response:
    return _no_store(anonymous_form(request, state, "reset.html", token=token[:100],
                                    min_length=state.tp.settings.password_min_length))


@router.post("/reset", response_class=HTMLResponse)
def reset_submit(request: Request, state: StateDep, token: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "",
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    check_form_csrf(request, state, csrf_token)
    limit_auth(request, state)
    try:
        signed = reset_password(state, token, password)
    except TriptychError as exc:
        bad_link = exc.field == "token"
        return anonymous_form(request, state, "reset.html", status_code=400 if bad_link else 422,
                              error=exc.message, token="" if bad_link else token[:100],
                              min_length=state.tp.settings.password_min_length)
    return _signed_in_redirect(state, signed, "/create?password_reset=1")


@router.post("/logout")
def logout_submit(request: Request, state: StateDep, principal: MaybeUser,
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    token = request.cookies.get(sessions_mod.COOKIE)
    if principal is not None and principal.via == "session" and token:
        check_csrf(request, principal, csrf_token)
        state.tp.accounts.sign_out(token)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(sessions_mod.COOKIE, path="/")
    return response
