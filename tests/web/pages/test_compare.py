"""The compare page in Chromium at 1280x800 and 390x844: three models side by side (one row
on a laptop, a sideways scroll-snap row on a phone), the keeper rendered on a higher tier,
and a blind test whose pick is stored and shown on the picks page. Plus, once, a fresh
install's first compare of three built-in models."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.web.conftest import fast_config, start_server
from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up, sync_api
from triptych.client import Triptych
from triptych.db.models import Job
from triptych.db.studio_models import Pick
from triptych.settings import Settings
from triptych.web.app import create_app

expect = sync_api.expect
THREE = ("Fake Draft", "Fake General", "Fake Premium")
PROMPT = "two red hearts and a star on a blue background"


def run_compare(page, base: str, *, blind: bool = False, labels=THREE, timeout=30_000) -> None:
    page.goto(f"{base}/compare")
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    for label in labels:
        page.get_by_label(label).check()
    if blind:
        page.get_by_label("Blind test").check()
    expect(page.locator("#compare-quote-total")).to_be_visible()
    page.get_by_role("button", name="Run comparison").click()
    expect(page.locator("#compare-status")).to_contain_text("Done", timeout=timeout)
    expect(page.locator(".compare-cell img")).to_have_count(len(labels), timeout=timeout)


def cell_boxes(page) -> list[dict]:
    cells = page.locator(".compare-cell")
    return [cells.nth(i).bounding_box() for i in range(cells.count())]


def assert_side_by_side(page) -> None:
    boxes = cell_boxes(page)
    assert len(boxes) == 3
    assert len({round(b["y"]) for b in boxes}) == 1, f"cells not on one row: {boxes}"
    xs = [b["x"] for b in boxes]
    assert xs == sorted(xs) and len(set(xs)) == 3
    grid = page.locator("#compare-grid")
    if page.size == "desktop":
        # All three in view at once, inside the page.
        assert all(b["x"] + b["width"] <= 1280 for b in boxes)
        assert all(b["width"] > 200 for b in boxes)
    else:
        # One cell per screen width; the row scrolls sideways and snaps to each cell.
        style = grid.evaluate("g => { const s = getComputedStyle(g); return [s.overflowX, "
                              "s.scrollSnapType, g.scrollWidth, g.clientWidth]; }")
        overflow, snap, scroll_width, client_width = style
        assert overflow == "auto" and snap.startswith("x")
        assert scroll_width >= 3 * client_width - 5
        assert abs(boxes[0]["width"] - client_width) < 8
        snap_align = page.locator(".compare-cell").first.evaluate(
            "c => getComputedStyle(c).scrollSnapAlign")
        assert "start" in snap_align
    assert fits_width(page), "the page itself scrolls sideways"


def test_compare_side_by_side_then_render_the_keeper_on_a_higher_tier(studio, fake_factory, page):
    sign_up(page, studio.url)
    run_compare(page, studio.url)
    titles = page.locator(".compare-cell .cell-title")
    expect(titles).to_have_text(list(THREE))  # display names, not ids
    assert_side_by_side(page)
    # The "render the keeper on" row only shows once there is a keeper.
    expect(page.locator("#premium-form")).to_be_hidden()
    draft = page.locator('.compare-cell[data-model="fake-draft"]')
    draft.get_by_role("button", name="Keep this").click()
    expect(draft.get_by_role("button", name="Keeper ✓")).to_be_visible()
    expect(page.locator("#premium-form")).to_be_visible()
    # Instant keeper -> defaults to the next tier up (fast), never a cheaper model.
    expect(page.locator("#premium-model")).to_have_value("fake-general")
    # Keeping counts as an open pick (the first pick loads the prompt-kind model: slower).
    expect(draft.locator(".badge")).to_have_text("Your pick", timeout=60_000)
    shot(page, "compare-results")
    assert_accessible(page)

    keeper_id = draft.get_attribute("data-job-id")
    page.get_by_role("button", name="Render keeper").click()
    page.wait_for_url(f"{studio.url}/jobs/**")
    with studio.tp.ctx.sessions() as s:
        rerender = s.scalars(select(Job).where(Job.parent_job_id == keeper_id)).one()
    assert rerender.model_id == "fake-general"
    assert page.url.endswith(f"/jobs/{rerender.id}")
    with studio.tp.ctx.sessions() as s:
        pick = s.scalars(select(Pick)).one()
    assert (pick.model_id, pick.blind) == ("fake-draft", False)


def test_keeper_on_a_fast_model_defaults_to_premium(studio, fake_factory, page):
    sign_up(page, studio.url)
    run_compare(page, studio.url, labels=("Fake Draft", "Fake General"))
    page.locator('.compare-cell[data-model="fake-general"]').get_by_role(
        "button", name="Keep this").click()
    expect(page.locator("#premium-model")).to_have_value("fake-premium")


def test_blind_pick_is_stored_revealed_and_shown_on_the_picks_page(studio, fake_factory, page):
    sign_up(page, studio.url)
    run_compare(page, studio.url, blind=True)
    cells = page.locator(".compare-cell")
    # Shuffled and anonymous: letters, no names, no prices or times that would give it away.
    expect(cells.locator(".cell-title")).to_have_text(["Image A", "Image B", "Image C"])
    assert cells.locator("[data-testid=cell-meta]").count() == 0
    for name in THREE:
        expect(page.locator("#compare-grid")).not_to_contain_text(name)
    assert page.locator(".compare-cell[data-model]").count() == 0
    assert_side_by_side(page)
    shot(page, "compare-blind")
    assert_accessible(page)

    chosen = cells.nth(1)
    job_id = chosen.get_attribute("data-job-id")
    chosen.get_by_role("button", name="Pick B").click()
    expect(chosen.locator(".badge")).to_have_text("Your blind pick", timeout=60_000)
    expect(page.locator("#blind-note")).to_contain_text("You picked")
    model = chosen.get_attribute("data-model")
    assert model in ("fake-draft", "fake-general", "fake-premium")
    expect(chosen.locator(".cell-title")).to_contain_text(model.replace("-", " ").title())
    expect(page.locator("#premium-form")).to_be_visible()  # the pick is the keeper

    with studio.tp.ctx.sessions() as s:
        pick = s.scalars(select(Pick)).one()
        job = s.get(Job, job_id)
    assert pick.blind is True and pick.job_id == job_id and pick.model_id == job.model_id
    assert sorted(pick.shown) == ["fake-draft", "fake-general", "fake-premium"]
    order = [cells.nth(i).get_attribute("data-model") for i in range(3)]
    assert pick.shown == order  # stored in the order shown

    page.get_by_role("link", name="Your picks").click()
    expect(page).to_have_url(f"{studio.url}/picks")
    expect(page.get_by_test_id("picks-count")).to_contain_text("1 pick, 1 of them blind")
    row = page.get_by_test_id("picks-models").locator(f'tr[data-model="{model}"]')
    expect(row.locator('[data-field="wins"]')).to_have_text("1")
    expect(row.locator('[data-field="shown"]')).to_have_text("1")
    expect(row.locator('[data-field="rate"]')).to_have_text("100%")
    loser = next(m for m in order if m != model)
    expect(page.get_by_test_id("picks-models").locator(
        f'tr[data-model="{loser}"] [data-field="rate"]')).to_have_text("0%")
    expect(page.locator('[data-kind="general"]')).to_be_visible()
    assert fits_width(page)
    shot(page, "picks")
    assert_accessible(page)


def test_picks_page_before_any_pick(studio, fake_factory, page):
    sign_up(page, studio.url)
    page.goto(f"{studio.url}/picks")
    expect(page.get_by_test_id("no-picks")).to_be_visible()
    assert fits_width(page)
    assert_accessible(page)


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_fresh_install_first_compare_of_three_built_in_models(tmp_path, page):
    """The real built-in catalog and shipped weights: the first compare must succeed."""
    tp = Triptych(Settings(home=tmp_path / "fresh", _env_file=None))
    server = start_server(create_app(tp, fast_config()))
    try:
        sign_up(page, server.url)
        run_compare(page, server.url, labels=("Pico Turbo", "Pico Diffusion", "Pico LM"),
                    timeout=240_000)
        expect(page.locator(".compare-cell .error")).to_have_count(0)
        expect(page.locator(".compare-cell .cell-title")).to_have_text(
            ["Pico Turbo", "Pico Diffusion", "Pico LM"])
        for job in tp.as_user("ada@example.com").compare_status(
                page.url.rsplit("/", 1)[1].split("?")[0])["jobs"]:
            assert job["status"] == "succeeded", job
    finally:
        server.stop()
        tp.db.dispose()
