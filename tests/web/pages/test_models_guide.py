"""The models guide on the real built-in catalog (hosted models without keys), at 1280x800 and
390x844: an example image for every built-in model, plain words, and no operator details
(environment variables, engine bindings) for anyone but an admin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.conftest import fast_config, start_server
from tests.web.pages.conftest import (
    Studio,
    assert_accessible,
    fits_width,
    shot,
    sign_up,
    sync_api,
)
from triptych.client import Triptych
from triptych.settings import Settings
from triptych.web.app import create_app

expect = sync_api.expect
JARGON = ("TRIPTYCH_", "reflow", "DeepCache", "adaLN", "U-Net", "builtin:", "API key")


@pytest.fixture
def real_studio(tmp_path) -> Iterator[Studio]:
    tp = Triptych(Settings(home=tmp_path / "real", _env_file=None))  # the built-in catalog
    server = start_server(create_app(tp, fast_config()))
    yield Studio(server.url, tp)
    server.stop()
    tp.db.dispose()


def builtin_ids(tp) -> list[str]:
    return [c.id for c in tp.catalog if c.builtin]


def test_guide_shows_examples_and_plain_words_to_a_user(real_studio, page):
    assert real_studio.tp.as_user("owner@example.com").user_id  # the first account: admin
    sign_up(page, real_studio.url)
    page.goto(f"{real_studio.url}/models")
    for model in builtin_ids(real_studio.tp):
        image = page.locator(f"#model-{model} img[data-testid=model-example]")
        image.scroll_into_view_if_needed()
        expect(image).to_be_visible()
        loaded = image.evaluate("i => i.complete && i.naturalWidth ? i.naturalWidth : new Promise("
                                "r => i.addEventListener('load', () => r(i.naturalWidth)))")
        assert loaded == 64
    html = page.content()
    for word in JARGON:
        assert word not in html, f"{word!r} shown to a non-admin"
    expect(page.get_by_test_id("operator-details")).to_have_count(0)
    flux = page.locator("#model-flux-pro")
    expect(flux.get_by_test_id("not-here")).to_have_text(
        "Not available on this server; ask your administrator.")
    pico_lm = page.locator("#model-pico-lm")
    expect(pico_lm.locator("ul.good")).to_contain_text("free wording")
    expect(pico_lm.locator("ul.bad")).not_to_be_empty()
    expect(pico_lm).to_contain_text("credits per image")
    assert fits_width(page)
    shot(page, "models")
    assert_accessible(page)


def test_guide_signed_out_has_no_operator_details(real_studio, page):
    page.goto(f"{real_studio.url}/models")
    expect(page.locator("img[data-testid=model-example]")).to_have_count(
        len(builtin_ids(real_studio.tp)))
    assert "TRIPTYCH_" not in page.content()


def test_admin_sees_operator_details(real_studio, page):
    sign_up(page, real_studio.url, "root@example.com")  # first account: admin
    page.goto(f"{real_studio.url}/models")
    details = page.get_by_test_id("operator-details")
    expect(details).to_be_visible()
    expect(details).to_contain_text("bfl:flux-2-pro")
    expect(details).to_contain_text("TRIPTYCH_BFL_API_KEY")
    assert fits_width(page)
    assert_accessible(page)
