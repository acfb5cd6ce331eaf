"""The credits page's plan section in Chromium, with payments on (a fake Stripe): the plan
and what it includes, the packs and the upgrade, a click that goes to Checkout, and the
credits arriving when the signed webhook does."""

from __future__ import annotations

from playwright.sync_api import expect
from pydantic import SecretStr

from tests.support.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, delivery
from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up


def test_plan_packs_checkout_and_the_credits_arriving(studio, page):
    with FakeStripe().running() as fake:
        settings = studio.tp.settings
        settings.stripe_secret_key = SecretStr(SECRET_KEY)
        settings.stripe_webhook_secret = SecretStr(WEBHOOK_SECRET)
        settings.stripe_api_base = fake.url
        sign_up(page, studio.url)
        page.goto(f"{studio.url}/credits")
        expect(page.get_by_test_id("plan-name")).to_have_text("Free")
        expect(page.get_by_test_id("plan")).to_contain_text("50 free credits each month")
        expect(page.get_by_test_id("plan")).to_contain_text("Images up to 2048×2048")
        expect(page.get_by_test_id("upgrade")).to_contain_text("Upgrade to Pro · $10.00 a month")
        expect(page.get_by_test_id("buy-small")).to_have_text("500 credits · $5.00")
        expect(page.get_by_test_id("buy-credits")).to_have_attribute("href", "/credits#buy")
        expect(page.get_by_test_id("plan-ask-admin")).to_have_count(0)
        assert fits_width(page), f"/credits scrolls sideways at {page.size}"
        assert_accessible(page)
        shot(page, "credits-plans")

        page.get_by_test_id("buy-small").click()
        expect(page.get_by_role("heading", name="Fake Checkout")).to_be_visible()
        session = next(reversed(fake.sessions))
        studio.tp.payments.webhook(*delivery(fake.completed(session)))
        page.goto(fake.sessions[session]["success_url"])
        expect(page.get_by_test_id("paid")).to_be_visible()
        expect(page.get_by_test_id("available")).to_have_text("550")
        expect(page.get_by_test_id("statement").locator("li").first).to_contain_text(
            "+500 credits: bought 500 credits")


def test_payments_off_plan_section_asks_the_administrator(studio, page):
    sign_up(page, studio.url)
    page.goto(f"{studio.url}/credits")
    expect(page.get_by_test_id("plan-ask-admin")).to_contain_text(
        "To change plan or get more credits, ask your administrator")
    expect(page.get_by_test_id("packs")).to_have_count(0)
    expect(page.get_by_test_id("upgrade")).to_have_count(0)
