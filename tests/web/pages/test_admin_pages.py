"""The admin pages in Chromium at 1280x800 and 390x844: each loads for an admin with real
data on it, nothing scrolls sideways, axe-core finds no serious or critical violation in
light or dark mode; a plain account gets the 403 page; an admin changes a price, turns a
model off and disables an account, and finds each in the audit log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up
from triptych.db.models import User
from triptych.engines.errors import RetryableError
from triptych.errors import JobFailed
from triptych.service.audit import Actor

PAGES = ["admin", "admin/users", "admin/user", "admin/usage", "admin/providers",
         "admin/catalog", "admin/audit"]


def seed(studio, fake_factory) -> int:
    """A second account with jobs (one failed), a capped key and some admin history; its
    id."""
    tp = studio.tp
    pat = tp.as_user("pat@example.com")
    pat.generate("two cats", "fake-general", n=2)
    pat.generate("a dot", "fake-draft")
    fake_factory.engine("fake-premium").fail_with = RetryableError("busy")
    with pytest.raises(JobFailed):
        pat.generate("a storm", "fake-premium")
    fake_factory.engine("fake-premium").fail_with = None
    tp.accounts.create_key(pat.user_id, "ci", monthly_cap=100)
    boss = tp.accounts.by_email("ada@example.com")
    who = Actor(boss.id, boss.email)
    tp.admin.set_price("fake-premium", 12, who)
    tp.grant("pat@example.com", 25, reason="pilot", actor=who)
    return pat.user_id


@pytest.mark.parametrize("name", PAGES)
def test_admin_page_fits_and_is_accessible(studio, page, fake_factory, name) -> None:
    sign_up(page, studio.url)  # the first account: an admin
    pat = seed(studio, fake_factory)
    path = f"admin/users/{pat}" if name == "admin/user" else name
    page.goto(f"{studio.url}/{path}")
    expect(page.get_by_role("navigation", name="Admin sections")).to_be_visible()
    assert fits_width(page), f"/{path} scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, "admin-" + (name.split("/", 1)[1] if "/" in name else "jobs"))


def test_a_plain_account_gets_the_403_page(studio, page) -> None:
    studio.tp.accounts.create_user("boss@example.com")  # the first account: the admin
    sign_up(page, studio.url)
    response = page.goto(f"{studio.url}/admin/catalog")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("admin")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    assert_accessible(page)


def test_price_switch_and_account_changes_land_in_the_audit_log(studio, page,
                                                                 fake_factory) -> None:
    sign_up(page, studio.url)
    pat = seed(studio, fake_factory)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{studio.url}/admin/catalog")
    row = page.locator('tr[data-model="fake-general"]')
    row.get_by_label("Credits per image for Fake General").fill("9")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("done")).to_contain_text("Fake General now costs 9 credits")
    row = page.locator('tr[data-model="fake-general"]')
    expect(row).to_contain_text("5 credits, on")  # the card beside the override
    expect(row.get_by_test_id("price-override")).to_be_visible()
    row.get_by_role("button", name="Turn off Fake General").click()
    expect(page.get_by_test_id("done")).to_contain_text("takes no new jobs")
    assert studio.tp.quote(model="fake-general")["lines"][0]["credits_per_image"] == 9

    page.goto(f"{studio.url}/admin/users?q=pat")
    page.get_by_role("link", name="pat@example.com").click()
    page.get_by_role("button", name="Disable account").click()
    expect(page.get_by_test_id("status")).to_contain_text("disabled")
    with studio.tp.ctx.sessions.begin() as s:
        assert s.get(User, pat).disabled_at is not None

    page.goto(f"{studio.url}/admin/audit")
    rows = page.get_by_test_id("audit").locator("tbody tr")
    expect(rows.nth(0)).to_contain_text("disabled an account")
    expect(rows.nth(0)).to_contain_text("pat@example.com")
    expect(rows.nth(1)).to_contain_text("turned a model off")
    expect(rows.nth(2)).to_contain_text("5 → 9")
    page.get_by_label("Kind of action").select_option("credits.grant")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("audit").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("audit")).to_contain_text("pilot")
