"""Stripe's webhook: verify the signature, then apply each event once.

The signature is checked by ``stripe.Webhook.construct_event`` with the endpoint's signing
secret (``t=<time>,v1=HMAC-SHA256(secret, "<time>.<payload>")``, at most five minutes old):
anything else changes nothing and answers 400, so Stripe retries a delivery that our
secret could not check. The event's id goes into ``stripe_events`` in the same transaction as
its effects: a replay (or a concurrent duplicate, which waits on the first's uncommitted row)
finds it there and answers 200 doing nothing.

Events used: ``checkout.session.completed`` and ``checkout.session.async_payment_succeeded``
(a pack grants credits, a subscription starts a plan), ``customer.subscription.created``,
``.updated`` and ``.deleted`` (the plan follows the subscription), ``charge.refunded`` and
``charge.dispute.created`` (a pack's credits are taken back). Others are recorded and
ignored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import stripe
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triptych.db.models import User
from triptych.db.payment_models import StripeEvent
from triptych.service.payments import packs, subscriptions
from triptych.service.payments.errors import BadSignature, PaymentsOff
from triptych.service.payments.receipts import Receipt, deliver

if TYPE_CHECKING:
    from triptych.service.jobs import JobContext

log = logging.getLogger("triptych.payments")
TOLERANCE_SECONDS = 300  # Stripe's default: older deliveries are refused as replays


@dataclass
class Outcome:
    event_id: str
    type: str
    duplicate: bool = False
    did: str = ""
    receipts: list[Receipt] = field(default_factory=list)


def verify(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event, if ``signature`` is Stripe's for ``payload``; else ``BadSignature``."""
    try:
        stripe.Webhook.construct_event(payload, signature or "", secret,
                                       tolerance=TOLERANCE_SECONDS)
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        why = exc.user_message or str(exc)
        raise BadSignature(f"The Stripe signature does not match: {why}") from None
    except (ValueError, IndexError, TypeError):
        raise BadSignature("The Stripe-Signature header or the payload is malformed.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or \
            not isinstance((event.get("data") or {}).get("object"), dict):
        raise BadSignature("The payload is not a Stripe event.")
    return event


def handle(ctx: JobContext, payload: bytes, signature: str | None) -> Outcome:
    """Verify and apply one delivery; receipts go to their hooks after the commit."""
    settings = ctx.settings
    if not settings.payments_on:
        raise PaymentsOff()
    assert settings.stripe_webhook_secret is not None
    event = verify(payload, signature, settings.stripe_webhook_secret.get_secret_value())
    try:
        with ctx.sessions.begin() as s:
            outcome = apply(ctx, s, event)
    except IntegrityError:
        with ctx.sessions.begin() as s:
            if s.get(StripeEvent, event["id"]) is None:
                raise  # not a duplicate: answer 500, and Stripe delivers it again
        # a concurrent duplicate committed its event row first
        outcome = Outcome(event["id"], str(event.get("type")), duplicate=True,
                          did="already applied")
    log.info("stripe event %s (%s): %s", outcome.event_id, outcome.type,
             outcome.did or "duplicate")
    deliver(outcome.receipts)
    return outcome


def apply(ctx: JobContext, s: Session, event: dict[str, Any]) -> Outcome:
    """Apply ``event`` in the caller's transaction, unless its id was applied before."""
    now = ctx.clock()
    outcome = Outcome(event["id"], str(event.get("type") or ""))
    record = StripeEvent(id=event["id"], type=outcome.type[:100],
                         created=int(event.get("created") or 0), received_at=now, outcome="")
    try:
        with s.begin_nested():  # the primary key: a second delivery stops here
            s.add(record)
    except IntegrityError:
        outcome.duplicate, outcome.did = True, "already applied"
        return outcome
    handler = _HANDLERS.get(outcome.type)
    outcome.did = handler(ctx, s, event, outcome) if handler else "ignored"
    record.outcome = outcome.did[:500]
    return outcome


def _user(s: Session, obj: dict[str, Any]) -> User | None:
    meta = obj.get("metadata") or {}
    raw = meta.get("triptych_user_id") or obj.get("client_reference_id")
    try:
        return s.get(User, int(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _checkout_completed(ctx: JobContext, s: Session, event: dict[str, Any],
                        outcome: Outcome) -> str:
    session = event["data"]["object"]
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "not paid yet (checkout.session.async_payment_succeeded will follow)"
    user = _user(s, session)
    if user is None:
        return "no Triptych account on this checkout; ignored"
    meta = session.get("metadata") or {}
    ledger = ctx.ledger(s)
    now = ctx.clock()
    assert ctx.plans is not None
    if session.get("mode") == "subscription":
        plan_id = meta.get("plan") or getattr(ctx.plans.best_paid(), "id", None)
        if not session.get("subscription") or plan_id not in ctx.plans.plans:
            return f"subscription checkout for an unknown plan {plan_id!r}; ignored"
        did = subscriptions.started(s, ledger, ctx.plans, user=user, plan_id=plan_id,
                                    sub_id=str(session["subscription"]),
                                    customer=session.get("customer"),
                                    created=int(event.get("created") or 0), now=now)
        plan = ctx.plans.get(plan_id)
        outcome.receipts.append(Receipt(user.id, user.email, "subscription",
                                        f"{plan.name} plan", 0,
                                        int(session.get("amount_total") or 0),
                                        str(session.get("currency") or plan.currency),
                                        str(session.get("id"))))
        return did
    try:
        credits = int(meta.get("credits") or 0)
    except ValueError:
        credits = 0
    pack_id = str(meta.get("pack") or "")
    if credits <= 0 and pack_id in ctx.plans.packs:
        credits = ctx.plans.packs[pack_id].credits
    if credits <= 0:
        return "checkout without a Triptych credit pack; ignored"
    name = ctx.plans.packs[pack_id].name if pack_id in ctx.plans.packs else \
        f"{credits} credits"
    row = packs.payment_row(s, str(session.get("payment_intent") or session["id"]), now)
    already = row.grant_event_id is not None
    did = packs.completed(s, ledger, row, event_id=event["id"], user=user, session=session,
                          pack_id=pack_id, credits=credits, now=now, label=name)
    if not already:
        outcome.receipts.append(Receipt(user.id, user.email, "pack", name, credits,
                                        row.amount_cents, row.currency, str(session["id"])))
    return did


def _charge_refunded(ctx: JobContext, s: Session, event: dict[str, Any],
                     outcome: Outcome) -> str:
    charge = event["data"]["object"]
    if not charge.get("payment_intent"):
        return "refund of a charge without a payment intent; ignored"
    row = packs.payment_row(s, str(charge["payment_intent"]), ctx.clock())
    return packs.refunded(s, ctx.ledger(s), row, charge, ctx.clock())


def _dispute_created(ctx: JobContext, s: Session, event: dict[str, Any],
                     outcome: Outcome) -> str:
    dispute = event["data"]["object"]
    if not dispute.get("payment_intent"):
        return "dispute of a charge without a payment intent; ignored"
    row = packs.payment_row(s, str(dispute["payment_intent"]), ctx.clock())
    return packs.disputed(s, ctx.ledger(s), row, ctx.clock())


def _subscription_changed(ctx: JobContext, s: Session, event: dict[str, Any],
                          outcome: Outcome) -> str:
    sub = event["data"]["object"]
    user = _user(s, sub)
    assert ctx.plans is not None
    plan_id = (sub.get("metadata") or {}).get("plan") or getattr(ctx.plans.best_paid(), "id", "")
    if plan_id not in ctx.plans.plans:
        return f"subscription for an unknown plan {plan_id!r}; ignored"
    return subscriptions.changed(s, ctx.ledger(s), ctx.plans, sub=sub,
                                 user_id=user.id if user else None, plan_id=plan_id,
                                 deleted=event["type"] == "customer.subscription.deleted",
                                 created=int(event.get("created") or 0), now=ctx.clock())


_HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}
# what to subscribe the Stripe webhook endpoint to (`triptych payments events`)
HANDLED_EVENTS = tuple(_HANDLERS)
