"""Every page, signed in, at 1280x800 and 390x844: it loads, nothing scrolls sideways, and
axe-core finds no serious or critical violation in light or dark mode."""

from __future__ import annotations

import pytest

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up

PAGES = ["create", "compare", "picks", "gallery", "credits", "models", "account"]


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_and_is_accessible(studio, page, name):
    sign_up(page, studio.url)
    page.goto(f"{studio.url}/{name}")
    assert fits_width(page), f"/{name} scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, f"empty-{name}")


@pytest.mark.parametrize("name", ["login", "signup", "models", "docs"])
def test_signed_out_page_is_accessible(studio, page, name):
    page.goto(f"{studio.url}/{name}")
    if name == "docs":  # Swagger UI renders the OpenAPI document client-side
        page.locator(".swagger-ui .info .title").wait_for()
    assert fits_width(page)
    if name != "docs":  # Swagger UI's own markup: checked for loading in test_account.py
        assert_accessible(page)
    shot(page, name)
