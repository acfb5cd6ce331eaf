"""Every page, signed in, at 1280x800 and 390x844: it loads, nothing scrolls sideways, and
axe-core finds no serious or critical violation in light or dark mode."""

from __future__ import annotations

import pytest

from tests.web.pages.conftest import assert_accessible, fits_width, shot, sign_up

LATER = pytest.mark.xfail(reason="the studio pages land in the next merges", strict=False)
PAGES = [pytest.param(name, marks=LATER) for name in ("create", "compare", "gallery", "models")]
PAGES += ["credits", "account"]  # landed: must pass


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_and_is_accessible(studio, page, name):
    sign_up(page, studio.url)
    page.goto(f"{studio.url}/{name}")
    assert fits_width(page), f"/{name} scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, name)


@LATER
@pytest.mark.parametrize("name", ["login", "signup", "models"])
def test_signed_out_page_is_accessible(studio, page, name):
    page.goto(f"{studio.url}/{name}")
    assert fits_width(page)
    assert_accessible(page)
