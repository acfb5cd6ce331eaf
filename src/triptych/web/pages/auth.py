"""Signing in, signing up and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.errors import TriptychError
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
from triptych.web.routes_auth import login_user, set_session_cookie, signup_user

router = APIRouter()


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
        _, token, _ = login_user(state, email, password[:256])
    except Unauthorized as exc:
        return anonymous_form(request, state, "login.html", status_code=401,
                              error=exc.message, email=email, next=safe_next(next))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(state, response, token)
    response.delete_cookie(FORM_CSRF_COOKIE, path="/")
    return response


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, state: StateDep, principal: MaybeUser) -> Response:
    if principal is not None:
        return RedirectResponse("/create", status_code=303)
    return anonymous_form(request, state, "signup.html")


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(request: Request, state: StateDep, email: Annotated[str, Form()],
                  password: Annotated[str, Form()],
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    check_form_csrf(request, state, csrf_token)
    limit_auth(request, state)
    error = None
    if not 8 <= len(password) <= 256:
        error = "Choose a password of 8 to 256 characters."
    else:
        try:
            _, token, _ = signup_user(state, email, password)
        except TriptychError as exc:
            error = exc.message
    if error:
        return anonymous_form(request, state, "signup.html", status_code=422, error=error,
                              email=email)
    response = RedirectResponse("/create?welcome=1", status_code=303)
    set_session_cookie(state, response, token)
    response.delete_cookie(FORM_CSRF_COOKIE, path="/")
    return response


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
