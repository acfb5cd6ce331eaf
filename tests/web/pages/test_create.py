"""The create page in Chromium at 1280x800 and 390x844: four images fit the viewport, the
lightbox steps with the arrow keys, download all is a zip, vary and render-on make new jobs
(render-on starting above the current model), cancel refunds, Ctrl+Enter generates."""

from __future__ import annotations

import io
import re
import zipfile

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up
from tests.web.pages.studio_steps import balance, expect, gate, generate


def jobs_of(studio, email="ada@example.com"):
    return studio.tp.as_user(email).history(limit=50)


def test_four_images_fit_without_scrolling_and_the_lightbox_steps(fake_factory, studio, page):
    sign_up(page, studio.url)
    generate(page, studio.url, "two red hearts and a star", keyboard=True)  # Ctrl+Enter
    [job] = jobs_of(studio)
    assert job["n"] == 4 and job["status"] == "succeeded"
    expect(page.get_by_test_id("stage-text")).to_contain_text("Fake Draft")
    expect(page.get_by_test_id("stage-text")).to_contain_text("4 credits")
    assert fits_width(page)
    images = page.get_by_test_id("result-image")
    if page.size == "desktop":
        assert page.evaluate("window.scrollY") == 0
        view = page.viewport_size
        for i in range(4):
            box = images.nth(i).bounding_box()
            assert box["x"] >= 0 and box["y"] >= 0, box
            assert box["x"] + box["width"] <= view["width"], box
            assert box["y"] + box["height"] <= view["height"], (i, box)
        xs = sorted({round(images.nth(i).bounding_box()["x"]) for i in range(4)})
        assert len(xs) == 2  # a 2x2 grid, not a column
    shot(page, "create")
    assert_accessible(page)

    page.get_by_role("button", name="Image 2 of 4", exact=False).click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    caption = page.locator("#lightbox-caption")
    expect(caption).to_contain_text("2 of 4")
    page.keyboard.press("ArrowRight")
    expect(caption).to_contain_text("3 of 4")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(caption).to_contain_text("4 of 4")  # wraps round
    shot(page, "create-lightbox")
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # back on the tile last shown (focus moves as the dialog closes: wait for it, briefly)
    expect(page.locator(":focus")).to_have_attribute("aria-label", re.compile(r"^Image 4 of 4"))


def test_download_all_is_a_zip_of_every_png(fake_factory, studio, page):
    sign_up(page, studio.url)
    generate(page, studio.url, "a blue square", n=3)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download all").click()
    download = info.value
    assert download.suggested_filename.startswith("triptych-a-blue-square-")
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    names = archive.namelist()
    assert len(names) == 3 and all(n.endswith(".png") for n in names)
    assert all(archive.read(n)[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    with page.expect_download() as one:
        page.get_by_role("link", name="Download image 2").click()
    assert one.value.suggested_filename.endswith(".png")


def test_vary_makes_a_new_job_with_another_seed(fake_factory, studio, page):
    sign_up(page, studio.url)
    generate(page, studio.url, "a green tree", n=2, seed="77")
    page.get_by_role("button", name="Vary image 1").click()
    expect(page.get_by_test_id("result-image")).to_have_count(1)
    # the new seed is random and may itself start with 77 (seed 776695739)
    expect(page.get_by_test_id("stage-text")).not_to_contain_text(re.compile(r"seed 77\b"))
    newest, first = jobs_of(studio)
    assert newest["parent_job_id"] == first["id"] and newest["n"] == 1
    assert (newest["prompt"], newest["model"]) == (first["prompt"], first["model"])
    assert newest["seed"] != first["seed"] == 77
    expect(page.get_by_test_id("credit-balance")).to_have_text("47")  # 2 + 1 draft credits


def test_render_on_another_model_starts_on_a_higher_tier(fake_factory, studio, page):
    sign_up(page, studio.url)
    generate(page, studio.url, "a lake at dawn", n=2, seed="9")
    page.get_by_label("Render image 2 on another model").click()
    select = page.get_by_label("Render image 2 on", exact=True)
    expect(select).to_be_focused()
    tiers = {"fake-draft": 0, "fake-general": 1, "fake-premium": 2}
    chosen = select.input_value()
    assert tiers[chosen] > tiers["fake-draft"], chosen
    options = select.locator("option")
    assert tiers[options.first.get_attribute("value")] > 0  # nothing cheaper comes first
    assert select.locator("optgroup").first.get_attribute("label") == "Better"
    shot(page, "create-render-on")
    page.get_by_test_id("render-form").get_by_role("button", name="Render").click()
    expect(page.get_by_test_id("result-image")).to_have_count(1)
    newest = jobs_of(studio)[0]
    assert newest["model"] == chosen and newest["seed"] == 10  # image 2's seed


def test_cancel_while_running_refunds_the_held_credits(fake_factory, studio, page):
    release = gate(fake_factory, "fake-premium")
    try:
        sign_up(page, studio.url)
        generate(page, studio.url, "a slow castle", model="fake-premium", n=1, wait=False)
        stage_text = page.get_by_test_id("stage-text")
        expect(page.get_by_test_id("held")).to_have_text("held 15 credits")
        expect(page.get_by_test_id("preview")).to_be_visible()  # live preview while it runs
        expect(page.get_by_test_id("credit-balance")).to_have_text("35")
        expect(page.get_by_role("alert").filter(has_text="No images")).to_have_count(0)
        assert "charged 0" not in page.locator("#stage").inner_text()
        shot(page, "create-running")
        page.get_by_role("button", name="Cancel").click()
        expect(stage_text).to_contain_text("Cancelling")
    finally:
        release.set()
    expect(page.get_by_test_id("refunded")).to_have_text("Cancelled — 15 credits refunded.")
    expect(page.get_by_test_id("credit-balance")).to_have_text("50")
    assert balance(page) == 50
    [job] = jobs_of(studio)
    assert job["status"] == "canceled" and job["charged"] == 0
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
