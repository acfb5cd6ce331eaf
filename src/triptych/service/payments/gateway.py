"""Calls to Stripe's API with the official ``stripe`` library: Checkout Sessions for a credit
pack or a plan's subscription, and cancelling a subscription at the end of its period.

Prices come from plans.toml (inline ``price_data``, so nothing needs setting up in Stripe's
dashboard) unless a plan or pack names an existing ``stripe_price``. The metadata written on
the session (and on its payment intent or subscription) is what the webhook trusts later:
the account, the pack and its credits, or the plan, as they were when the person paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from triptych.catalog.plans import Pack, Plan
from triptych.service.payments.errors import PaymentProviderError
from triptych.settings import Settings


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def _line(item: Pack | Plan, *, recurring: dict[str, str] | None) -> dict[str, Any]:
    if item.stripe_price:
        return {"price": item.stripe_price, "quantity": 1}
    price: dict[str, Any] = {"currency": item.currency, "unit_amount": item.price_cents,
                             "product_data": {"name": f"Triptych: {item.name}"}}
    if recurring:
        price["recurring"] = recurring
    return {"price_data": price, "quantity": 1}


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        assert settings.stripe_secret_key is not None
        base = {"api": settings.stripe_api_base.rstrip("/")} if settings.stripe_api_base else None
        self.client = stripe.StripeClient(settings.stripe_secret_key.get_secret_value(),
                                          base_addresses=base,  # type: ignore[arg-type]
                                          max_network_retries=2)

    def _create(self, params: dict[str, Any]) -> CheckoutSession:
        try:
            session = self.client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            why = exc.user_message or exc.__class__.__name__
            raise PaymentProviderError(f"Stripe did not open a checkout ({why}); nothing was "
                                       f"charged. Try again in a minute.") from None
        if not session.url:
            raise PaymentProviderError("Stripe opened a checkout without a page to send you "
                                       "to; nothing was charged. Try again.")
        return CheckoutSession(session.id, session.url)

    def pack_checkout(self, *, user_id: int, email: str, pack: Pack, success_url: str,
                      cancel_url: str) -> CheckoutSession:
        meta = {"triptych_user_id": str(user_id), "pack": pack.id, "credits": str(pack.credits)}
        return self._create({
            "mode": "payment", "line_items": [_line(pack, recurring=None)],
            "success_url": success_url, "cancel_url": cancel_url,
            "client_reference_id": str(user_id), "customer_email": email,
            "metadata": meta, "payment_intent_data": {"metadata": meta},
        })

    def plan_checkout(self, *, user_id: int, email: str, plan: Plan, success_url: str,
                      cancel_url: str, customer: str | None = None) -> CheckoutSession:
        meta = {"triptych_user_id": str(user_id), "plan": plan.id}
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [_line(plan, recurring={"interval": plan.interval})],
            "success_url": success_url, "cancel_url": cancel_url,
            "client_reference_id": str(user_id),
            "metadata": meta, "subscription_data": {"metadata": meta},
        }
        if customer:
            params["customer"] = customer
        else:
            params["customer_email"] = email
        return self._create(params)

    def cancel_at_period_end(self, subscription_id: str) -> None:
        """The plan lasts to the end of what was paid; Stripe then sends
        ``customer.subscription.deleted``, which moves the account back to free."""
        try:
            self.client.v1.subscriptions.update(subscription_id,
                                                params={"cancel_at_period_end": True})
        except stripe.StripeError as exc:
            why = exc.user_message or exc.__class__.__name__
            raise PaymentProviderError(f"Stripe did not cancel the subscription ({why}); "
                                       f"nothing changed. Try again in a minute.") from None
