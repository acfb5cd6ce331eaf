"""The credits page: balance and renewal, how to get more, a low-balance notice, this month's
use by model (a server-drawn chart) and the statement in plain words, a page at a time."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triptych.catalog.card import ModelCard
from triptych.errors import TriptychError
from triptych.web import readable
from triptych.web.deps import Principal, StateDep, check_csrf, facade_for
from triptych.web.middleware import CSP
from triptych.web.pages.common import PageUser, render
from triptych.web.routes_payments import start_checkout
from triptych.web.state import WebState

router = APIRouter()
PAGE_LINES = 25


@router.get("/credits", response_class=HTMLResponse)
def credits_page(request: Request, state: StateDep, principal: PageUser,
                 before: Annotated[int | None, Query(ge=1)] = None,
                 paid: Annotated[int | None, Query()] = None,
                 cancelled: Annotated[int | None, Query()] = None) -> Response:
    response = _page(request, state, principal, before, paid=bool(paid),
                     cancelled=bool(cancelled))
    if state.tp.payments.on:
        response.headers["Content-Security-Policy"] = checkout_csp(state)
    return response


def checkout_csp(state: WebState) -> str:
    """The site's policy, letting this page's forms go on to Stripe's hosted Checkout (a
    form's redirect must be allowed by ``form-action`` of the page that sent it)."""
    sources = ["https://checkout.stripe.com"]
    base = state.tp.settings.stripe_api_base
    if base:  # a test or stripe-mock server answers with its own Checkout address
        parts = urlsplit(base)
        sources.append(f"{parts.scheme}://{parts.netloc}")
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(sources))


def _page(request: Request, state: WebState, principal: Principal, before: int | None = None,
          status_code: int = 200, **extra: Any) -> Response:
    credits = facade_for(state, principal).credits(statement=False)
    now = state.now()
    tp = state.tp
    found = tp.accounts.credits_page(principal.user_id, limit=PAGE_LINES, before=before)
    page, use, usual, more = found.page, found.use, found.usual, found.more
    lines = [{"line": line, "when": readable.when(line.at, now),
              "iso": line.at.isoformat(timespec="seconds") + "Z"} for line in page.lines]
    top = max((u.credits for u in use), default=0)
    return render(request, state, "credits.html", principal, status_code=status_code,
                  credits=credits, lines=lines,
                  older=page.older, first_page=before is None, use=use, use_top=top,
                  use_total=sum(u.credits for u in use), month=readable.month_of(now),
                  renews=readable.day(credits["renews_on"]), more=more,
                  low=_low_balance(state, credits["available"], usual),
                  offer=tp.payments.offer(principal.user_id), **extra)


@router.post("/credits/checkout", response_class=HTMLResponse)
def credits_checkout(request: Request, state: StateDep, principal: PageUser,
                     pack: Annotated[str, Form(max_length=64)] = "",
                     plan: Annotated[str, Form(max_length=16)] = "",
                     csrf_token: Annotated[str, Form()] = "") -> Response:
    """Open a Stripe Checkout for a pack or a plan and send the browser there."""
    check_csrf(request, principal, csrf_token)
    try:
        session = start_checkout(state, principal.user_id, request, pack=pack or None,
                                 plan=plan or None)
    except TriptychError as exc:
        return _page(request, state, principal, status_code=exc.http_status,
                     plan_error=exc.message)
    return RedirectResponse(session.url, status_code=303)


@router.post("/credits/cancel-plan", response_class=HTMLResponse)
def credits_cancel_plan(request: Request, state: StateDep, principal: PageUser,
                        csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        state.tp.payments.cancel_subscription(principal.user_id)
    except TriptychError as exc:
        return _page(request, state, principal, status_code=exc.http_status,
                     plan_error=exc.message)
    return RedirectResponse("/credits#buy", status_code=303)


def _low_balance(state: WebState, available: int, usual: str | None) -> dict[str, Any] | None:
    """The notice when the balance cannot pay for one image on the person's usual model (or,
    new here, the cheapest paid model that runs): which model, and what it costs."""
    card = _runnable(state, usual)
    if card is None:
        paid = [c for c in state.tp.catalog if c.credits > 0 and _runnable(state, c.id)]
        card = min(paid, key=lambda c: (c.credits, c.tier_rank), default=None)
    if card is None or available >= card.credits:
        return None
    return {"model": card.name, "credits": card.credits, "usual": card.id == usual}


def _runnable(state: WebState, model_id: str | None) -> ModelCard | None:
    if not model_id or model_id not in state.tp.catalog:
        return None
    card = state.tp.catalog.get(model_id)
    return card if state.tp.availability(card)[0] else None
