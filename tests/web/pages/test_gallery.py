"""The gallery at both sizes: one tile per image grouped by job, the star (stored through the
API), filters for favourites, model and date, the action menu, and axe in light and dark."""

from __future__ import annotations

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up
from tests.web.pages.studio_steps import expect


def test_gallery_tiles_favourites_and_filters(fake_factory, studio, page):
    sign_up(page, studio.url)
    me = studio.tp.as_user("ada@example.com")
    me.generate("a yellow sun", "fake-draft", n=3, seed=1)
    me.generate("a purple boat", "fake-general", n=1, seed=2)
    page.goto(f"{studio.url}/gallery")
    groups = page.get_by_test_id("gallery").locator(":scope > li")
    expect(groups).to_have_count(2)
    tiles = page.get_by_test_id("tile")
    expect(tiles).to_have_count(4)  # one per image, not per job
    expect(groups.first).to_have_attribute("data-model", "fake-general")  # newest first
    assert fits_width(page)
    shot(page, "gallery")
    assert_accessible(page)

    sun = groups.nth(1).get_by_test_id("tile").nth(1)
    star = sun.get_by_role("button", name="Favourite")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    image_id = sun.get_attribute("data-image-id")
    assert me.image(image_id)["favourite"] is True  # stored, not just drawn

    sun.get_by_label("Actions for this image").click()
    menu = sun.locator(".menu-list")
    expect(menu.get_by_role("link", name="Download")).to_be_visible()
    expect(menu.get_by_role("link", name="Open")).to_be_visible()
    expect(menu.get_by_role("button", name="Delete")).to_be_visible()
    shot(page, "gallery-menu")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()

    page.get_by_label("Favourites only").check()
    page.get_by_role("button", name="Search").click()
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-image-id", image_id)
    expect(tiles.first.get_by_role("button", name="Favourite")).to_have_attribute(
        "aria-pressed", "true")

    page.get_by_label("Favourites only").uncheck()
    page.get_by_label("Model").select_option("fake-draft")
    page.get_by_label("Made").select_option("7")
    page.get_by_role("button", name="Search").click()
    expect(tiles).to_have_count(3)
    expect(page.get_by_label("Made")).to_have_value("7")

    tiles.first.get_by_role("button", name="Favourite").click()  # no filter on stars now
    expect(tiles.first.get_by_role("button", name="Favourite")).to_have_attribute(
        "aria-pressed", "true")
    page.reload()
    expect(tiles.first.get_by_role("button", name="Favourite")).to_have_attribute(
        "aria-pressed", "true")
