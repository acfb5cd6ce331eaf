"""A job's page while it runs (progress, preview, held credits, cancel) and once done (the
record in words, render-on defaulting to a better tier, vary), at both sizes, axe-clean."""

from __future__ import annotations

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up
from tests.web.pages.studio_steps import expect, gate, generate


def test_job_page_while_running_then_done(fake_factory, studio, page):
    release = gate(fake_factory, "fake-general")
    try:
        sign_up(page, studio.url)
        generate(page, studio.url, "a red kite over a hill", model="fake-general", n=2,
                 seed="40", wait=False)
        expect(page.get_by_test_id("held")).to_be_visible()
        page.get_by_role("link", name="Open", exact=True).click()
        page.wait_for_url("**/jobs/*")
        expect(page.get_by_test_id("job-status")).to_have_text("Running")
        expect(page.get_by_test_id("held")).to_have_text("held 10 credits")
        expect(page.locator('[data-field="held"]')).to_have_text("held 10 credits")
        expect(page.get_by_test_id("preview")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel")).to_be_visible()
        expect(page.get_by_role("alert").filter(has_text="No images")).to_have_count(0)
        assert "charged 0" not in page.inner_text("main")
        assert fits_width(page)
        shot(page, "job-running")
        assert_accessible(page)
    finally:
        release.set()
    expect(page.get_by_test_id("job-status")).to_have_text("Done")  # reloads when it settles
    record = page.get_by_test_id("record")
    expect(record.locator('[data-field="model"]')).to_have_text("Fake General")
    expect(record.locator('[data-field="seed"]')).to_have_text("40")
    expect(record.locator('[data-field="size"]')).to_have_text("64x64")
    expect(record.locator('[data-field="charged"]')).to_have_text("10")
    expect(record.locator('[data-field="seconds"]')).to_contain_text(" s")
    expect(page.get_by_test_id("result-image")).to_have_count(2)
    rerender = page.get_by_label("Render on another model")
    assert rerender.input_value() == "fake-premium"  # the better tier, not the cheaper draft
    expect(page.locator("#rerender")).to_have_text("Render · 15 credits")
    assert fits_width(page)
    shot(page, "job")
    assert_accessible(page)

    source = page.url
    page.get_by_role("button", name="Vary (new seed)").click()
    page.wait_for_url(lambda url: url != source and "/jobs/" in url)
    expect(page.get_by_test_id("job-status")).to_have_text("Done")
    expect(page.locator('[data-field="n"]')).to_have_text("1")
    assert page.locator('[data-field="seed"]').inner_text() != "40"


def test_cancelled_job_page_says_refunded(fake_factory, studio, page):
    release = gate(fake_factory, "fake-premium")
    try:
        sign_up(page, studio.url)
        generate(page, studio.url, "a slow moon", model="fake-premium", n=1, wait=False)
        page.get_by_role("link", name="Open", exact=True).click()
        page.wait_for_url("**/jobs/*")
        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_test_id("stage-text")).to_contain_text("Cancelling")
    finally:
        release.set()
    expect(page.get_by_test_id("job-status")).to_have_text("Cancelled")
    expect(page.get_by_test_id("stage-text")).to_contain_text("15 credits refunded")
    expect(page.get_by_test_id("credit-balance")).to_have_text("50")
