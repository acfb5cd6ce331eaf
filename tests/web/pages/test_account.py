"""The account and admin pages in Chromium at 1280x800 and 390x844: a new key is shown once
after a post-redirect-get (a reload creates nothing and shows nothing), its copy button puts it
on the clipboard and says so, keys fit a phone as cards; both pages pass axe in light and
dark."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up


def test_create_key_reload_and_copy(studio, page):
    sign_up(page, studio.url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=studio.url)
    page.goto(f"{studio.url}/account")
    page.get_by_label("Name (optional)").fill("laptop script")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url(f"{studio.url}/account")  # redirected: a GET, safe to reload

    secret = page.locator("#new-key-value").inner_text()
    assert re.fullmatch(r"tpk_[0-9a-f]{8}_[\w-]{43}", secret)
    copy = page.get_by_test_id("copy-key")
    copy.click()
    expect(copy).to_have_text("Copied")
    expect(page.get_by_test_id("copy-state")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.get_by_test_id("keys").locator("li")).to_have_count(1)
    assert fits_width(page), f"/account scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, "account-new-key")

    page.reload()
    expect(page.get_by_test_id("new-key")).to_have_count(0)  # shown once
    keys = page.get_by_test_id("keys").locator("li")
    expect(keys).to_have_count(1)  # the reload created nothing
    expect(keys.nth(0)).to_contain_text("laptop script")
    expect(keys.nth(0)).to_contain_text(re.compile(r"created today \d\d:\d\d · last used never"))
    assert secret not in page.content()
    assert fits_width(page)
    shot(page, "account")


def test_admin_page_is_accessible(studio, page, fake_factory):
    sign_up(page, studio.url)  # the first account on a fresh install is the admin
    studio.tp.as_user("ada@example.com").generate("a tiny house", "fake-draft")
    page.goto(f"{studio.url}/admin")
    expect(page.get_by_role("region", name="All jobs table")).to_contain_text(
        "Fake Draft")
    assert fits_width(page), f"/admin scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, "admin")


def test_swagger_ui_runs_offline(studio, chromium):
    from tests.web.pages.conftest import open_page

    page = open_page(chromium)
    console = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    page.goto(f"{studio.url}/docs")
    expect(page.get_by_text("/v1/models").first).to_be_visible()
    expect(page.get_by_text("/v1/images/generations").first).to_be_visible()
    assert not page.js_errors and not [c for c in console if "Content Security" in c], console
    page.context.close()
