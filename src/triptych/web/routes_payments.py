"""``/v1/payments``: Stripe's webhook, and starting a Checkout from a program.

The webhook takes no session or key: Stripe's signature (``Stripe-Signature``) is its
authentication, checked in ``service/payments/webhook.py`` against the raw body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from triptych.web.deps import CurrentUser, StateDep
from triptych.web.responses import AUTH, errors

router = APIRouter(tags=["payments"])
WEBHOOK_PATH = "/v1/payments/stripe/webhook"


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pack: str | None = Field(None, max_length=64, description="A credit pack id.")
    plan: str | None = Field(None, max_length=16, description="A plan id to subscribe to.")


class CheckoutCreated(BaseModel):
    id: str
    url: str


class WebhookReceived(BaseModel):
    received: bool
    duplicate: bool
    event: str


def return_urls(request: Request) -> tuple[str, str]:
    """Where Checkout sends the person back: the credits page, paid or not."""
    base = str(request.base_url).rstrip("/")
    return f"{base}/credits?paid=1", f"{base}/credits?cancelled=1"


def start_checkout(state: Any, user_id: int, request: Request, *, pack: str | None,
                   plan: str | None) -> Any:
    success, cancel = return_urls(request)
    payments = state.tp.payments
    if plan:
        return payments.checkout_plan(user_id, plan, success_url=success, cancel_url=cancel)
    return payments.checkout_pack(user_id, pack or "", success_url=success, cancel_url=cancel)


@router.post("/v1/payments/checkout", status_code=201, response_model=CheckoutCreated,
             responses=errors(*AUTH, 404, 502))
def create_checkout(body: CheckoutCreate, request: Request, principal: CurrentUser,
                    state: StateDep) -> dict[str, str]:
    """Open a Stripe Checkout for a credit pack or a plan; send the person to ``url``.
    Credits or the plan arrive when Stripe reports the payment (the webhook)."""
    session = start_checkout(state, principal.user_id, request, pack=body.pack, plan=body.plan)
    return {"id": session.id, "url": session.url}


@router.post(WEBHOOK_PATH, response_model=WebhookReceived, include_in_schema=False)
async def stripe_webhook(request: Request, state: StateDep) -> dict[str, Any]:
    payload = await request.body()  # the exact bytes Stripe signed
    signature = request.headers.get("stripe-signature")
    outcome = await run_in_threadpool(state.tp.payments.webhook, payload, signature)
    return {"received": True, "duplicate": outcome.duplicate, "event": outcome.event_id}
