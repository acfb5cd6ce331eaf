"""The web UI: server-rendered pages (Jinja2) with a little plain JavaScript
(``static/app.js``) that calls the same ``/v1`` API a program would.

Forms that change state carry a CSRF token: the session's token once signed in, and before
that a signed double-submit token (cookie + hidden field) for the log-in and sign-up forms.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Annotated, Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature

from triptych.catalog.card import TIER_ORDER
from triptych.db.models import User
from triptych.errors import TriptychError
from triptych.service.recommend import INTENTS
from triptych.web import keys as keys_mod
from triptych.web import sessions as sessions_mod
from triptych.web.deps import (
    Principal,
    StateDep,
    check_csrf,
    client_address,
    facade_for,
    resolve_principal,
)
from triptych.web.errors import Forbidden, RateLimited, Unauthorized
from triptych.web.present import job_out
from triptych.web.routes_admin import all_jobs
from triptych.web.routes_auth import login_user, set_session_cookie, signup_user
from triptych.web.routes_catalog import models_public
from triptych.web.state import WebState

router = APIRouter()

FORM_CSRF_COOKIE = "triptych_csrf"
FORM_CSRF_MAX_AGE = 2 * 3600
TIER_LABELS = {"instant": "Instant (about a second)", "fast": "Fast (under 10 s)",
               "medium": "Medium (under 30 s)", "premium": "Premium (best quality, slowest)"}
FAMILIES = [
    ("diffusion", "Diffusion",
     "Starts from pure noise and removes a little of it at each of many steps, guided by the "
     "prompt. Reliable and detailed; the step count makes it slower."),
    ("distilled-diffusion", "Distilled diffusion",
     "A diffusion model taught to jump in one to four steps, copying a slower teacher. "
     "Near-instant drafts at a small cost in detail."),
    ("autoregressive", "Autoregressive",
     "Writes the picture as a sequence of image tokens, one after another, like a language "
     "model writes words. Strong on layout and on text inside images."),
    ("transformer", "Transformer",
     "An image generator built from transformer blocks end to end; good at following long, "
     "precise prompts."),
    ("diffusion-transformer", "Diffusion transformer (DiT)",
     "Diffusion whose denoiser is a transformer over image patches instead of a U-Net. It "
     "scales well, which is why most of today's top models use it."),
    ("diffusion+llm", "Diffusion + LLM",
     "A large language model reads (and may rewrite) the prompt and conditions a diffusion "
     "decoder; it understands complex instructions and world knowledge."),
]
WHEN_TO_USE = [
    ("Need it now", "the instant tier: about a second, a credit or so"),
    ("Looks like a photo", "BitDance"),
    ("A good general picture", "Flux 2 Pro"),
    ("Text inside the image", "Nano Banana 2"),
    ("Logo, icon, banner, ad or social post", "Recraft V4 Pro"),
    ("Weird, surreal, creative", "Grok Imagine"),
    ("Hero image or final render", "Nano Banana Pro"),
    ("Offline, no key", "the built-in Pico models (trained by Triptych itself)"),
]


# -- helpers ----------------------------------------------------------------------------------

def optional_user(request: Request, state: StateDep) -> Principal | None:
    principal = resolve_principal(request, state)
    request.state.page_user = principal
    return principal


def require_user(principal: Annotated[Principal | None, Depends(optional_user)]) -> Principal:
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


# -- sign in ----------------------------------------------------------------------------------

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
        with state.tp.ctx.sessions.begin() as s:
            sessions_mod.end_session(s, token)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(sessions_mod.COOKIE, path="/")
    return response


# -- create, result, compare ------------------------------------------------------------------

@router.get("/create", response_class=HTMLResponse)
def create_page(request: Request, state: StateDep, principal: PageUser,
                prompt: str = "", model: str = "", seed: str = "", size: str = "",
                welcome: bool = False) -> Response:
    return render(request, state, "create.html", principal, groups=grouped_models(state),
                  selected=model or default_model(state), prompt=prompt[:2000],
                  seed=seed[:12], size=size[:20], welcome=welcome)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, state: StateDep, principal: PageUser,
             job_id: Annotated[str, Path(max_length=64)]) -> Response:
    job = job_out(facade_for(state, principal).job(job_id))
    card = state.tp.catalog.get(job["model"])
    record = job["images"][0]["record"] if job["images"] else {}
    return render(request, state, "job.html", principal, job=job, card=card,
                  groups=grouped_models(state),
                  record_json=json.dumps(record, indent=2, ensure_ascii=False))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, state: StateDep, principal: PageUser, prompt: str = "",
                 seed: str = "", models: str = "") -> Response:
    return render(request, state, "compare.html", principal, groups=grouped_models(state),
                  prompt=prompt[:2000], seed=seed[:12], chosen=models.split(",")[:4],
                  compare_id=None)


@router.get("/compare/{compare_id}", response_class=HTMLResponse)
def compare_view(request: Request, state: StateDep, principal: PageUser,
                 compare_id: Annotated[str, Path(max_length=64)]) -> Response:
    from triptych.web.routes_compare import compare_status

    status = compare_status(facade_for(state, principal), compare_id)  # owner check
    return render(request, state, "compare.html", principal, groups=grouped_models(state),
                  prompt=status["prompt"], seed=str(status["seed"]),
                  chosen=[j["model"] for j in status["jobs"]], compare_id=compare_id)


# -- gallery, credits, models -----------------------------------------------------------------

PAGE_SIZE = 24


@router.get("/gallery", response_class=HTMLResponse)
def gallery_page(request: Request, state: StateDep, principal: PageUser, q: str = "",
                 model: str = "", page: int = 1) -> Response:
    page = max(1, min(page, 10_000))
    tp = facade_for(state, principal)
    items = tp.history(q[:200] or None, model=model[:100] or None, limit=PAGE_SIZE + 1,
                       offset=(page - 1) * PAGE_SIZE)
    return render(request, state, "gallery.html", principal,
                  jobs=[job_out(j) for j in items[:PAGE_SIZE]], more=len(items) > PAGE_SIZE,
                  page=page, q=q[:200], model=model[:100], models=state.tp.models(),
                  urlquote=urlquote)


@router.post("/gallery/images/{image_id}/delete")
def gallery_delete(request: Request, state: StateDep, principal: PageUser,
                   image_id: Annotated[str, Path(max_length=64)],
                   csrf_token: Annotated[str, Form()] = "",
                   back: Annotated[str, Form()] = "/gallery") -> Response:
    check_csrf(request, principal, csrf_token)
    facade_for(state, principal).delete_image(image_id)
    return RedirectResponse(safe_next(back), status_code=303)


@router.get("/credits", response_class=HTMLResponse)
def credits_page(request: Request, state: StateDep, principal: PageUser) -> Response:
    credits = facade_for(state, principal).credits(statement=True, limit=200)
    return render(request, state, "credits.html", principal, credits=credits)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, state: StateDep, principal: MaybeUser) -> Response:
    return render(request, state, "models.html", principal, groups=grouped_models(state),
                  families=FAMILIES, when=WHEN_TO_USE, tier_labels=TIER_LABELS,
                  intents=INTENTS)


# -- account and admin ------------------------------------------------------------------------

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


def require_admin(principal: PageUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This page is for admin accounts.")
    return principal


PageAdmin = Annotated[Principal, Depends(require_admin)]


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, state: StateDep, principal: PageAdmin, done: str = "",
               error: str = "") -> Response:
    return render(request, state, "admin.html", principal,
                  jobs=all_jobs(state, limit=100, offset=0), done=done[:200], error=error[:300])


@router.post("/admin/grant")
def admin_grant(request: Request, state: StateDep, principal: PageAdmin,
                email: Annotated[str, Form(max_length=320)],
                amount: Annotated[int, Form(ge=1, le=1_000_000)],
                reason: Annotated[str, Form(max_length=200)],
                csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        state.tp.grant(email, amount, reason=f"{reason.strip()} (by {principal.email})")
    except TriptychError as exc:
        return RedirectResponse(f"/admin?error={urlquote(exc.message)}", status_code=303)
    return RedirectResponse(f"/admin?done={urlquote(f'Granted {amount} to {email}.')}",
                            status_code=303)


@router.post("/admin/plan")
def admin_plan(request: Request, state: StateDep, principal: PageAdmin,
               email: Annotated[str, Form(max_length=320)], plan: Annotated[str, Form()],
               csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        state.tp.set_plan(email, plan)
    except TriptychError as exc:
        return RedirectResponse(f"/admin?error={urlquote(exc.message)}", status_code=303)
    return RedirectResponse(f"/admin?done={urlquote(f'{email} is now on the {plan} plan.')}",
                            status_code=303)
