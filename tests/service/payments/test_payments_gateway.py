"""Opening Checkout through the official ``stripe`` library, against a fake Stripe."""

from __future__ import annotations

import pytest

from triptych.errors import InvalidRequest
from triptych.service.payments.errors import PaymentProviderError, PaymentsOff

URLS = {"success_url": "http://t.test/credits?paid=1", "cancel_url": "http://t.test/credits"}


def test_pack_checkout_sends_the_pack_and_the_account(tp, stripe_fake):
    uid = tp.user_id
    session = tp.payments.checkout_pack(uid, "small", **URLS)
    assert session.url.startswith(f"{stripe_fake.url}/pay/")
    [(_, path, params)] = stripe_fake.requests
    assert path == "/v1/checkout/sessions" and params["mode"] == "payment"
    price = params["line_items"][0]["price_data"]
    assert (price["unit_amount"], price["currency"]) == ("500", "usd")
    meta = {"triptych_user_id": str(uid), "pack": "small", "credits": "500"}
    assert params["metadata"] == meta and params["payment_intent_data"]["metadata"] == meta
    assert params["customer_email"] == tp.user_email and params["success_url"] == URLS[
        "success_url"]
    assert tp.credits()["purchased"] == 0  # nothing until Stripe says it was paid


def test_plan_checkout_is_a_subscription_with_the_plan(tp, stripe_fake):
    tp.payments.checkout_plan(tp.user_id, "pro", **URLS)
    params = stripe_fake.requests[-1][2]
    assert params["mode"] == "subscription"
    assert params["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert params["subscription_data"]["metadata"]["plan"] == "pro"


def test_refusals(tp, stripe_fake):
    with pytest.raises(InvalidRequest, match="no credit pack 'gold'"):
        tp.payments.checkout_pack(tp.user_id, "gold", **URLS)
    with pytest.raises(InvalidRequest, match="not for sale"):
        tp.payments.checkout_plan(tp.user_id, "free", **URLS)
    stripe_fake.fail_next = 10  # Stripe is down: a clear error, nothing recorded
    with pytest.raises(PaymentProviderError, match="nothing was charged"):
        tp.payments.checkout_pack(tp.user_id, "small", **URLS)


def test_payments_off_without_keys(tp):
    tp.settings.stripe_secret_key = None
    assert not tp.payments.on
    with pytest.raises(PaymentsOff, match="ask your administrator"):
        tp.payments.checkout_pack(tp.user_id, "small", **URLS)
    offer = tp.payments.offer(tp.user_id)
    assert not offer.payments_on and offer.packs == [] and offer.upgrade is None
