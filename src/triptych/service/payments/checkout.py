"""The person's side of payments: what they can buy, starting a Checkout, cancelling a
subscription. The webhook (``webhook.py``), not the return from Checkout, grants anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from triptych.db.models import User
from triptych.db.payment_models import Payment, Subscription
from triptych.errors import InvalidRequest
from triptych.service.payments import subscriptions, webhook
from triptych.service.payments.errors import PaymentsOff
from triptych.service.payments.gateway import CheckoutSession, StripeGateway

if TYPE_CHECKING:
    from triptych.service.jobs import JobContext


@dataclass(frozen=True)
class PlanOffer:
    """What the credits page shows of the account's plan and what is for sale."""

    plan: dict[str, Any]  # the account's plan, as data
    payments_on: bool
    packs: list[dict[str, Any]]
    upgrade: dict[str, Any] | None  # the paid plan on offer (not the current one)
    subscription: dict[str, Any] | None  # the subscription paying for the plan, if any


def _price(cents: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


class Payments:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._gateway: StripeGateway | None = None

    @property
    def on(self) -> bool:
        return self.ctx.settings.payments_on

    def gateway(self) -> StripeGateway:
        if not self.on:
            raise PaymentsOff()
        if self._gateway is None:
            self._gateway = StripeGateway(self.ctx.settings)
        return self._gateway

    def offer(self, user_id: int) -> PlanOffer:
        plans = self.ctx.plans
        assert plans is not None
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            sub = subscriptions.active_for(s, user_id)
            plan = plans.get(user.plan)
        best = plans.best_paid()
        packs = [{**p.model_dump(), "price": _price(p.price_cents, p.currency)}
                 for p in plans.packs.values() if p.for_sale] if self.on else []
        upgrade = None
        if self.on and best is not None and best.id != plan.id and \
                best.monthly_credits > plan.monthly_credits:
            upgrade = {**best.model_dump(), "price": _price(best.price_cents, best.currency)}
        return PlanOffer(
            plan=plan.model_dump(), payments_on=self.on, packs=packs, upgrade=upgrade,
            subscription=None if sub is None else {
                "id": sub.id, "status": sub.status, "plan": sub.plan_id,
                "cancel_at_period_end": sub.cancel_at_period_end})

    def checkout_pack(self, user_id: int, pack_id: str, *, success_url: str,
                      cancel_url: str) -> CheckoutSession:
        plans = self.ctx.plans
        assert plans is not None
        pack = plans.packs.get(pack_id)
        if pack is None or not pack.for_sale:
            raise InvalidRequest(f"There is no credit pack '{pack_id}' for sale.", field="pack")
        email = self._email(user_id)
        return self.gateway().pack_checkout(user_id=user_id, email=email, pack=pack,
                                            success_url=success_url, cancel_url=cancel_url)

    def checkout_plan(self, user_id: int, plan_id: str, *, success_url: str,
                      cancel_url: str) -> CheckoutSession:
        plans = self.ctx.plans
        assert plans is not None
        plan = plans.plans.get(plan_id)
        if plan is None or not plan.for_sale:
            raise InvalidRequest(f"The plan '{plan_id}' is not for sale.", field="plan")
        gateway = self.gateway()
        with self.ctx.sessions.begin() as s:
            if subscriptions.active_for(s, user_id) is not None:
                raise InvalidRequest("You already have a subscription.", field="plan")
            customer = s.scalar(select(Subscription.customer_id).where(
                Subscription.user_id == user_id, Subscription.customer_id.is_not(None))
                .limit(1))
        return gateway.plan_checkout(user_id=user_id, email=self._email(user_id), plan=plan,
                                     success_url=success_url, cancel_url=cancel_url,
                                     customer=customer)

    def cancel_subscription(self, user_id: int) -> dict[str, Any]:
        """Cancel at the end of the paid period; the plan changes when Stripe says it ended."""
        gateway = self.gateway()
        with self.ctx.sessions.begin() as s:
            sub = subscriptions.active_for(s, user_id)
            if sub is None:
                raise InvalidRequest("You have no subscription to cancel.", field="plan")
            sub_id = sub.id
        gateway.cancel_at_period_end(sub_id)
        with self.ctx.sessions.begin() as s:
            row = s.get(Subscription, sub_id)
            if row is not None:
                row.cancel_at_period_end = True
        return {"subscription": sub_id, "cancel_at_period_end": True}

    def webhook(self, payload: bytes, signature: str | None) -> webhook.Outcome:
        return webhook.handle(self.ctx, payload, signature)

    def payments_of(self, user_id: int | None = None, *,
                    short_only: bool = False) -> list[dict[str, Any]]:
        """Paid packs, newest first (one account's, or everyone's for the operator):
        what each granted and what refunds or disputes took back or could not."""
        query = (select(Payment, User.email).join(User, User.id == Payment.user_id,
                                                  isouter=True).order_by(Payment.id.desc()))
        if user_id is not None:
            query = query.where(Payment.user_id == user_id)
        if short_only:
            query = query.where(Payment.shortfall > 0)
        with self.ctx.sessions.begin() as s:
            return [{"user": email, "payment_intent": r.payment_intent, "session": r.session_id,
                     "pack": r.pack_id, "credits": r.credits, "granted": r.granted,
                     "amount_cents": r.amount_cents, "currency": r.currency,
                     "refunded_cents": r.refunded_cents, "disputed": r.disputed,
                     "reversed": r.reversed, "shortfall": r.shortfall,
                     "at": r.created_at.isoformat(timespec="seconds")}
                    for r, email in s.execute(query)]

    def _email(self, user_id: int) -> str:
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            return user.email
