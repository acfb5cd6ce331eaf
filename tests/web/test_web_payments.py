"""Payments through the HTTP layer: the webhook route, the credits page's plan section and
its Checkout redirect, with payments on (a fake Stripe) and off (the default)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tests.conftest import BOTH_DBS
from tests.support.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, delivery
from tests.web.conftest import make_key
from tests.web.test_web_pages import form_token, sign_up
from triptych.web.routes_payments import WEBHOOK_PATH


@pytest.fixture
def payments() -> bool:
    return True


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe().running() as fake:
        yield fake


@pytest.fixture
def settings(settings, stripe_fake, payments):
    if payments:
        settings.stripe_secret_key = SecretStr(SECRET_KEY)
        settings.stripe_webhook_secret = SecretStr(WEBHOOK_SECRET)
        settings.stripe_api_base = stripe_fake.url
    return settings


def post_event(client, evt, **how):
    body, header = delivery(evt, **how)
    return client.post(WEBHOOK_PATH, content=body,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})


@pytest.mark.parametrize("payments", [False])
def test_payments_off_says_ask_your_administrator(client, tp, stripe_fake):
    sign_up(client)
    page = client.get("/credits").text
    assert 'data-testid="plan-ask-admin"' in page and 'data-testid="packs"' not in page
    assert 'data-testid="ask-admin"' in page and "Free</span>" in page
    token = form_token(client, "/credits")
    refused = client.post("/credits/checkout", data={"pack": "small", "csrf_token": token})
    assert refused.status_code == 404 and "ask your administrator" in refused.text
    assert post_event(client, {"id": "evt_1"}).status_code == 404
    assert stripe_fake.requests == []
    assert "not part of the Free plan" in client.get("/account").text
    tp.set_plan("page@example.com", "pro")  # the plan, not its name, offers the opt-in
    assert 'name="unrestricted"' in client.get("/account").text


def test_credits_page_offers_packs_and_pro_and_redirects_to_checkout(client, tp, stripe_fake):
    sign_up(client)
    page = client.get("/credits").text
    assert 'data-testid="buy-small"' in page and "500 credits · $5.00" in page
    assert 'data-testid="upgrade"' in page and "$10.00 a month" in page
    assert 'data-testid="buy-credits"' in page  # "Buy credits" instead of "ask"
    token = form_token(client, "/credits")
    assert client.post("/credits/checkout", data={"pack": "small"},
                       follow_redirects=False).status_code == 403  # no CSRF token
    went = client.post("/credits/checkout", data={"pack": "small", "csrf_token": token},
                       follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"].startswith(f"{stripe_fake.url}/pay/")
    params = stripe_fake.requests[-1][2]
    assert params["success_url"] == "http://testserver/credits?paid=1"
    assert params["metadata"]["pack"] == "small"
    bad = client.post("/credits/checkout", data={"pack": "gold", "csrf_token": token})
    assert bad.status_code == 422 and "no credit pack" in bad.text


@BOTH_DBS
def test_webhook_grants_once_and_refuses_a_bad_signature(client, tp, stripe_fake):
    sign_up(client)
    token = form_token(client, "/credits")
    client.post("/credits/checkout", data={"pack": "large", "csrf_token": token},
                follow_redirects=False)
    evt = stripe_fake.completed(next(reversed(stripe_fake.sessions)))
    forged = post_event(client, evt, secret="whsec_wrong")
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "bad_signature"
    assert tp.as_user("page@example.com").credits()["purchased"] == 0
    for i in range(3):
        r = post_event(client, evt)
        assert r.status_code == 200 and r.json()["duplicate"] is (i > 0)
    page = client.get("/credits?paid=1").text
    assert 'data-testid="paid"' in page and ">2550</span>" in page
    assert post_event(client, stripe_fake.refunded(evt["data"]["object"]["id"])).json()[
        "duplicate"] is False
    assert ">50</span>" in client.get("/credits").text
    assert tp.verify_ledger() == []


def test_api_checkout_with_a_key(client, tp, stripe_fake):
    headers = make_key(tp, "dev@example.com")
    r = client.post("/v1/payments/checkout", json={"plan": "pro"}, headers=headers)
    assert r.status_code == 201 and r.json()["url"].startswith(f"{stripe_fake.url}/pay/")
    assert stripe_fake.requests[-1][2]["mode"] == "subscription"
    assert client.post("/v1/payments/checkout", json={"pack": "x", "credits": 9},
                       headers=headers).status_code == 422  # no mass-assigning credits
