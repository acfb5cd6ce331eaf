"""``/v1/auth``: sign up, log in and log out (cookie session), confirm an address, reset a
password, and ``/v1/me``.

How sign-up answers depends on ``TRIPTYCH_REQUIRE_VERIFIED_EMAIL`` (on by default when mail
is configured; docs/operators/email-and-accounts.md):

- required: every sign-up answers 202 "check your email", whether or not the address has an
  account (the owner of a taken address is emailed instead); the emailed link signs in;
- not required: a new address is signed in at once (201). A taken address gets a 422 saying
  so: without a mail channel nothing else could tell its owner, and anyone could learn the
  same by signing up and then logging in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from triptych.errors import InvalidRequest
from triptych.service.accounts import SignedIn
from triptych.service.password_policy import check_password_policy
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
from triptych.web.schemas import (
    AccountUpdate,
    AuthResult,
    ForgotRequest,
    LoginRequest,
    Notice,
    ResetRequest,
    SignupCreate,
    SignupPending,
    UserPublic,
    VerifyRequest,
)
from triptych.web.state import WebState

router = APIRouter(tags=["accounts"])

CHECK_EMAIL = ("Check your email: we sent a link to finish signing up. (If the address "
               "already has an account, we emailed its owner instead.)")
FORGOT_SENT = ("If an account uses this address, we emailed it a link to choose a new "
               "password. The link works once, for a short while.")
BAD_LINK = ("This link does not work: it was already used, it expired, or it was copied "
            "incompletely. Ask for a new one.")


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


def check_new_password(state: WebState, password: str, email: str | None = None) -> None:
    check_password_policy(password, min_length=state.tp.settings.password_min_length,
                          email=email)


def signup_user(state: WebState, request: Request, email: str,
                password: str) -> SignedIn | None:
    """Sign up: the new account and its session, or None when the sign-up continues by
    email (verification required; the same answer whether or not the address is taken)."""
    email = normalise_email(email)
    check_new_password(state, password, email)
    if state.signup_limits is not None:
        state.signup_limits.check(request)
    password_hash = state.passwords.hash(password)  # slow on purpose: outside the transaction
    if state.tp.settings.verification_required:
        state.tp.account_email.sign_up(email, password_hash)
        return None
    try:
        return state.tp.accounts.sign_up(email, password_hash, days=state.config.session_days)
    except InvalidRequest as exc:
        if exc.field == "email":
            state.tp.account_email.tell_owner(email)  # when mail is on
        raise


def login_user(state: WebState, email: str, password: str) -> SignedIn:
    try:
        email = normalise_email(email)
    except InvalidRequest:
        email = ""
    found = state.tp.accounts.password_hash(email) if email else None
    stored = found[1] if found is not None else None
    if not state.passwords.verify(stored, password) or found is None:
        if state.tp.settings.verification_required:  # a pending sign-up has no password yet
            raise Unauthorized("Wrong email or password. Just signed up? Open the link we "
                               "emailed you first.")
        raise Unauthorized("Wrong email or password.")
    new_hash = (state.passwords.hash(password)
                if state.passwords.needs_rehash(stored or "") else None)
    return state.tp.accounts.sign_in(found[0], days=state.config.session_days,
                                     new_hash=new_hash)


def reset_password(state: WebState, token: str, password: str) -> SignedIn:
    check_new_password(state, password)
    password_hash = state.passwords.hash(password)
    signed = state.tp.account_email.reset(token, password_hash, days=state.config.session_days)
    if signed is None:
        raise InvalidRequest(BAD_LINK, field="token")
    return signed


def _signed_in(state: WebState, response: Response, signed: SignedIn) -> dict[str, Any]:
    set_session_cookie(state, response, signed.token)
    return {"user": signed.member.public(), "csrf_token": signed.csrf_token}


@router.post("/v1/auth/signup", status_code=201, response_model=AuthResult,
             responses={202: {"model": SignupPending,
                              "description": "Verification required: check your email"},
                        **errors(422, 429)})
def signup(body: SignupCreate, request: Request, response: Response,
           state: StateDep) -> Any:
    """Create an account on the free plan and sign in (sets the session cookie); when the
    install verifies addresses, answers 202 and the emailed link finishes the sign-up."""
    _require_json(request)
    _limit_auth(state, request)
    signed = signup_user(state, request, body.email, body.password)
    if signed is None:
        return JSONResponse(SignupPending(message=CHECK_EMAIL).model_dump(), status_code=202)
    return _signed_in(state, response, signed)


@router.post("/v1/auth/login", response_model=AuthResult, responses=errors(401, 422, 429))
def login(body: LoginRequest, request: Request, response: Response,
          state: StateDep) -> dict[str, Any]:
    """Sign in with email and password (sets the session cookie)."""
    _require_json(request)
    _limit_auth(state, request)
    return _signed_in(state, response, login_user(state, body.email, body.password))


@router.post("/v1/auth/verify", response_model=AuthResult, responses=errors(422, 429))
def verify(body: VerifyRequest, request: Request, response: Response,
           state: StateDep) -> dict[str, Any]:
    """Use an emailed verification link's token: confirms the address, starts the monthly
    credits and signs in."""
    _require_json(request)
    _limit_auth(state, request)
    signed = state.tp.account_email.verify(body.token, days=state.config.session_days)
    if signed is None:
        raise InvalidRequest(BAD_LINK, field="token")
    return _signed_in(state, response, signed)


@router.post("/v1/auth/forgot", status_code=202, response_model=Notice,
             responses=errors(422, 429))
def forgot(body: ForgotRequest, request: Request, state: StateDep) -> dict[str, Any]:
    """Email a password reset link; the answer is the same whether or not the address has
    an account."""
    _require_json(request)
    _limit_auth(state, request)
    state.tp.account_email.request_reset(body.email)
    return {"message": FORGOT_SENT}


@router.post("/v1/auth/reset", response_model=AuthResult, responses=errors(422, 429))
def reset(body: ResetRequest, request: Request, response: Response,
          state: StateDep) -> dict[str, Any]:
    """Choose a new password with an emailed reset link's token: every other session of the
    account ends, and this client is signed in."""
    _require_json(request)
    _limit_auth(state, request)
    return _signed_in(state, response, reset_password(state, body.token, body.password))


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


@router.post("/v1/me/verification", status_code=202, response_model=Notice,
             responses=errors(401, 403, 422, 429))
def resend_verification(principal: CurrentUser, state: StateDep) -> dict[str, Any]:
    """Email this account a new address verification link."""
    if state.tp.settings.smtp_url is None:
        raise InvalidRequest("This server sends no email; ask your administrator.")
    if not state.tp.account_email.resend_verification(principal.user_id):
        return {"message": "Your address is already confirmed."}
    return {"message": f"We sent a new link to {principal.email}."}
