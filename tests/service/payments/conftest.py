"""Payments on, against the fake Stripe of ``tests/support/fake_stripe.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from tests.support.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe().running() as fake:
        yield fake


@pytest.fixture
def settings(settings, stripe_fake):
    settings.stripe_secret_key = SecretStr(SECRET_KEY)
    settings.stripe_webhook_secret = SecretStr(WEBHOOK_SECRET)
    settings.stripe_api_base = stripe_fake.url
    return settings
