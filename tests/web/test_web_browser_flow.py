"""The real UI in headless Chromium (Debian's, driven by Playwright; never downloaded):
sign up → 50 credits → generate → result with its record → compare three models → gallery
lists them → credits went down by exactly the quoted amounts → log out.

Screenshots land in ``artifacts/screenshots/`` (git-ignored) for CI to keep."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, fast_config, start_server
from triptych.client import Triptych
from triptych.settings import Settings
from triptych.web.app import create_app

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian chromium")


@pytest.fixture
def ui(tmp_path, fake_factory, fake_catalog):
    # A real clock here: the page shows times and orders the gallery by them.
    tp = Triptych(Settings(home=tmp_path / "ui", _env_file=None), catalog=fake_catalog)
    server = start_server(create_app(tp, fast_config()))
    yield server.url, tp
    server.stop()


@pytest.fixture
def page(chromium):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def balance(page) -> int:
    return int(page.get_by_test_id("credit-balance").inner_text())


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_signup_generate_compare_gallery_credits_logout(ui, page):
    base, tp = ui
    expect = sync_api.expect

    # Sign up: a fresh account on the free plan with 50 credits.
    page.goto(f"{base}/signup")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(f"{base}/create?welcome=1")
    expect(page.get_by_test_id("credit-balance")).to_have_text("50")
    start = balance(page)
    shot(page, "01-signed-up")

    # Create: a live recommendation as you type, the quote before Generate.
    prompt = "two red hearts and a star on a blue background"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    expect(page.locator("#recommendations li").first).to_be_visible(timeout=90_000)
    page.get_by_label("Model", exact=True).select_option("fake-general")
    page.get_by_label("Images", exact=True).select_option("1")
    quote = page.locator("#quote-total")
    expect(quote).to_have_attribute("data-credits", "5")
    quoted_generate = int(quote.get_attribute("data-credits"))
    page.get_by_text("Seed and size").click()
    page.get_by_label("Seed", exact=True).fill("1234")
    page.get_by_role("button", name="Generate").click()

    result = page.get_by_test_id("result")
    expect(result).to_be_visible()
    expect(page.get_by_test_id("result-image")).to_be_visible()
    page.get_by_text("Generation record").click()
    record = result.get_by_test_id("record")
    expect(record.locator('[data-field="model"]')).to_have_text("Fake General")
    expect(record.locator('[data-field="model-id"]')).to_have_text("fake-general")
    expect(record.locator('[data-field="status"]')).to_have_text("succeeded")
    expect(record.locator('[data-field="charged"]')).to_have_text(str(quoted_generate))
    expect(record.locator('[data-field="prompt"]')).to_have_text(prompt)
    expect(record.locator('[data-field="seed"]')).to_have_text("1234")
    assert "/content?download=1" in page.get_by_role(
        "link", name="Download image 1").get_attribute("href")
    assert page.get_by_role("link", name="Download all").get_attribute("href").endswith(
        "/images.zip")
    expect(page.locator("#result-full-record")).to_contain_text('"generator": "Triptych"')
    expect(page.get_by_test_id("credit-balance")).to_have_text(str(start - quoted_generate))
    shot(page, "02-generated")

    # Compare three models on the same prompt and seed, side by side.
    page.get_by_role("link", name="Compare", exact=True).click()
    page.get_by_label("Prompt", exact=True).fill(prompt)
    for model in ("Fake Draft", "Fake General", "Fake Premium"):
        page.get_by_label(model).check()
    compare_quote = page.locator("#compare-quote-total")
    expect(compare_quote).to_have_attribute("data-credits", "21")
    quoted_compare = int(compare_quote.get_attribute("data-credits"))
    page.get_by_role("button", name="Run comparison").click()
    expect(page.locator("#compare-status")).to_contain_text("Done", timeout=30_000)
    cells = page.locator(".compare-cell")
    expect(cells).to_have_count(3)
    for i in range(3):
        expect(cells.nth(i).locator("img")).to_be_visible()
        expect(cells.nth(i).get_by_test_id("cell-meta")).to_contain_text("credit")
    cells.nth(0).get_by_role("button", name="Keep this").click()
    expect(cells.nth(0).get_by_role("button", name="Keeper ✓")).to_be_visible()
    expect(page.locator("#premium-form")).to_be_visible()
    shot(page, "03-compared")

    # Gallery lists all four generations (a group per job, one image each), by model.
    page.get_by_role("link", name="Gallery").click()
    expect(page.get_by_test_id("tile")).to_have_count(4)
    tiles = page.get_by_test_id("gallery").locator(":scope > li")
    expect(tiles).to_have_count(4)
    models = sorted(tiles.nth(i).get_attribute("data-model") for i in range(4))
    assert models == ["fake-draft", "fake-general", "fake-general", "fake-premium"]
    page.get_by_label("Search prompts").fill("hearts")
    page.get_by_label("Model", exact=True).select_option("fake-premium")
    page.get_by_role("button", name="Search").click()
    expect(tiles).to_have_count(1)
    shot(page, "04-gallery")

    # Credits went down by exactly the quoted amounts, and the statement says so.
    page.get_by_role("link", name="Credits", exact=True).click()
    spent = quoted_generate + quoted_compare
    expect(page.get_by_test_id("available")).to_have_text(str(start - spent))
    assert balance(page) == start - spent
    assert tp.as_user("ada@example.com").credits(statement=False)["available"] == start - spent
    shot(page, "05-credits")

    # Readable on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Create").click()
    expect(page.get_by_role("button", name="Generate")).to_be_visible()
    shot(page, "06-create-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Log out: back to the log-in page; pages need signing in again.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{base}/login?signed_out=1")
    page.goto(f"{base}/gallery")
    expect(page).to_have_url(f"{base}/login?next=/gallery")
    shot(page, "07-logged-out")
