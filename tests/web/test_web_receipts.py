"""Receipts: a Stripe payment applied by the webhook (a fake Stripe on 127.0.0.1) is mailed
once through a real SMTP server, however often Stripe delivers the event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tests.conftest import BOTH_DBS
from tests.support.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, delivery
from tests.support.smtp_server import mail_settings, text_of
from tests.web.conftest import make_key
from triptych.service.payments.receipts import Receipt
from triptych.web.routes_payments import WEBHOOK_PATH


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe().running() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, smtp, stripe_fake):
    settings = mail_settings(tmp_path / "home", smtp.url)
    settings.stripe_secret_key = SecretStr(SECRET_KEY)
    settings.stripe_webhook_secret = SecretStr(WEBHOOK_SECRET)
    settings.stripe_api_base = stripe_fake.url
    return settings


@BOTH_DBS
def test_a_paid_pack_is_mailed_one_receipt(client, tp, smtp, stripe_fake):
    headers = make_key(tp, "payer@example.com")
    r = client.post("/v1/payments/checkout", json={"pack": "large"}, headers=headers)
    assert r.status_code == 201, r.text
    evt = stripe_fake.completed(next(reversed(stripe_fake.sessions)))
    for _ in range(3):  # Stripe delivers again when it is unsure
        body, signature = delivery(evt)
        assert client.post(WEBHOOK_PATH, content=body, headers={
            "Stripe-Signature": signature, "Content-Type": "application/json"}
        ).status_code == 200
    [mail] = smtp.inbox.wait(1)
    assert mail["To"] == "payer@example.com" and mail["Subject"].startswith("Receipt: ")
    text = text_of(mail)
    assert evt["data"]["object"]["id"] in text and "credits were added" in text
    tp.account_email.outbox().drain()
    assert len(smtp.inbox.messages) == 1


def test_a_receipt_for_another_installs_account_is_ignored(tp):
    user_id = tp.as_user("me@example.com").user_id
    receipt = Receipt(user_id, "me@example.com", "subscription", "Pro plan", 0, 900, "eur",
                      "cs_test_sub")
    assert tp.account_email.receipt(receipt)
    assert not tp.account_email.receipt(receipt)  # once per reference
    other = Receipt(user_id, "someone-else@example.com", "pack", "500 credits", 500, 1000,
                    "usd", "cs_test_other")
    assert not tp.account_email.receipt(other)
