"""The credits page in Chromium at 1280x800 and 390x844: the statement in plain words (one
line per job, a refund as a refund, readable dates, no ledger words, ISO times or hex ids),
this month's use by model as a chart, the low-balance notice, and the way to get more
credits ("ask your administrator", or "Buy credits" when the operator has a payment page)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up
from triptych.db.models import User
from triptych.engines.errors import ProviderUnavailableError


def spend_down(studio, fake_factory, email="ada@example.com"):
    """50 free credits: a Fake Premium job that fails and is refunded, three images on Fake
    General (the usual model), two on Fake Premium and one on Fake Draft: 4 credits left."""
    tp = studio.tp.as_user(email)
    premium = fake_factory.engine("fake-premium")
    premium.fail_with = ProviderUnavailableError("provider timeout")
    job = tp.submit("a storm", "fake-premium")
    tp.run(job["id"])
    premium.fail_with = None
    for prompt in ("two cats", "a red fox", "three stars"):
        tp.generate(prompt, "fake-general")
    tp.generate("a castle at dusk", "fake-premium", n=2)
    tp.generate("a dot", "fake-draft")


def make_admin(studio, email="boss@example.com"):
    user_id = studio.tp.as_user(email).user_id  # creates the account
    with studio.tp.ctx.sessions.begin() as s:
        s.get(User, user_id).role = "admin"


def test_statement_chart_and_low_balance(studio, page, fake_factory):
    make_admin(studio)  # the first account; ada is a plain user
    sign_up(page, studio.url)
    spend_down(studio, fake_factory)
    page.goto(f"{studio.url}/credits")

    expect(page.get_by_test_id("available")).to_have_text("4")
    expect(page.get_by_test_id("renews-on")).to_have_text(re.compile(r"^1 [A-Z][a-z]+$"))
    statement = page.get_by_test_id("statement")
    lines = statement.locator("li")
    expect(lines).to_have_count(7)  # 6 jobs and the monthly credits: one line each
    expect(lines.nth(0)).to_contain_text("1 credit — 'a dot' on Fake Draft")
    expect(lines.nth(1)).to_contain_text("30 credits — 'a castle at dusk' on Fake Premium")
    expect(lines.nth(4)).to_contain_text("5 credits — 'two cats' on Fake General")
    expect(lines.nth(5)).to_contain_text(
        "Refunded 15 credits — 'a storm' on Fake Premium failed: "
        "Provider unavailable: provider timeout")
    expect(lines.nth(6)).to_contain_text(re.compile(r"\+50 free credits for [A-Z][a-z]+ \d{4}"))
    expect(lines.nth(0).locator("time")).to_have_text(re.compile(r"^today \d\d:\d\d$"))
    job_link = lines.nth(4).get_by_role("link")
    assert re.fullmatch(r"/jobs/[0-9a-f]+", job_link.get_attribute("href"))

    text = page.locator("main").inner_text()
    for word in ("hold", "capture", "void"):
        assert not re.search(rf"\b{word}\b", text, re.I), f"ledger word {word!r} on the page"
    assert not re.search(r"\d{4}-\d\d-\d\dT", text), "an ISO timestamp on the page"
    assert not re.search(r"\b[0-9a-f]{12,}\b", text), "a hex id on the page"

    usage = page.get_by_test_id("usage")
    expect(usage.locator("li")).to_have_count(3)
    expect(usage.locator("li").nth(0)).to_contain_text("Fake Premium")
    expect(usage.locator("li").nth(0)).to_contain_text("30 credits · 1 generation")
    expect(usage.locator("li").nth(1)).to_contain_text("15 credits · 3 generations")
    widths = [float(r.get_attribute("width")) for r in usage.locator("rect.fill").all()]
    assert widths == [100.0, 50.0, pytest.approx(3.3, abs=0.1)]

    low = page.get_by_test_id("low-balance")
    expect(low).to_contain_text("one image on Fake General (your usual model) costs 5")
    expect(low.get_by_test_id("ask-admin")).to_contain_text(
        "Ask your administrator (boss@example.com)")
    expect(low.get_by_role("link", name="boss@example.com")).to_have_attribute(
        "href", "mailto:boss@example.com")
    expect(page.get_by_test_id("buy-credits")).to_have_count(0)
    assert fits_width(page), f"/credits scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, "credits")


def test_buy_credits_when_the_operator_has_a_payment_page(studio, page, fake_factory):
    sign_up(page, studio.url)
    studio.tp.settings.billing_url = "https://pay.example.com/triptych"
    page.goto(f"{studio.url}/credits")
    buy = page.get_by_test_id("buy-credits")
    expect(buy).to_have_text("Buy credits")
    expect(buy).to_have_attribute("href", "https://pay.example.com/triptych")
    expect(page.get_by_test_id("ask-admin")).to_have_count(0)
    expect(page.get_by_test_id("low-balance")).to_have_count(0)  # 50 credits: plenty
    expect(page.get_by_test_id("usage-empty")).to_have_text("Nothing spent yet this month.")
    assert fits_width(page)
    assert_accessible(page)
    shot(page, "credits-buy")
