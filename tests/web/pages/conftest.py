"""The studio in headless Chromium (Debian's, driven by Playwright; never downloaded), at the
two sizes every page must work at — a 1280x800 laptop and a 390x844 phone — in light and
dark, with axe-core checking accessibility.

``studio`` is a live server on the fake catalog (fast, deterministic engines);
``signed_in`` is a browser page of a fresh account. Screenshots go to
``$TRIPTYCH_SCREENSHOTS`` (default ``artifacts/screenshots/``, git-ignored);
``make screenshots`` writes them to ``docs/screenshots/`` for the docs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, fast_config, start_server
from triptych.client import Triptych
from triptych.settings import Settings
from triptych.web.app import create_app

ROOT = Path(__file__).resolve().parents[3]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PASSWORD = "correct horse battery"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian chromium")


def screenshots_dir() -> Path:
    path = Path(os.environ.get("TRIPTYCH_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Studio:
    url: str
    tp: Triptych


@pytest.fixture
def studio(tmp_path, fake_catalog) -> Iterator[Studio]:
    # A real clock: pages show times and order lists by them.
    tp = Triptych(Settings(home=tmp_path / "studio", _env_file=None), catalog=fake_catalog)
    server = start_server(create_app(tp, fast_config()))
    yield Studio(server.url, tp)
    server.stop()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    """Runs the test once at 1280x800 and once at 390x844."""
    return request.param


def open_page(chromium, size: str = "desktop", scheme: str = "light"):
    context = chromium.new_context(viewport=VIEWPORTS[size], color_scheme=scheme,
                                   accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return page


@pytest.fixture
def page(chromium, viewport) -> Iterator[object]:
    """A fresh browser context at the test's viewport; fails the test on a JavaScript error."""
    page = open_page(chromium, viewport)
    page.size = viewport
    yield page
    errors = page.js_errors
    page.context.close()
    assert not errors, f"JavaScript errors: {errors}"


def sign_up(page, base: str, email: str = "ada@example.com") -> None:
    page.goto(f"{base}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/create**")


@pytest.fixture
def signed_in(page, studio) -> object:
    sign_up(page, studio.url)
    return page


def shot(page, name: str) -> None:
    """A screenshot of the viewport, named with the page's size (``name-desktop.png``)."""
    size = getattr(page, "size", "desktop")
    page.screenshot(path=str(screenshots_dir() / f"{name}-{size}.png"))


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for v in results.response["violations"]:
        if v.get("impact") in ("serious", "critical"):
            targets = [n["target"] for n in v["nodes"]][:3]
            found.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return found


def assert_accessible(page) -> None:
    """No serious or critical axe violations in light mode and in dark mode."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found = serious_violations(page)
        assert not found, f"{scheme} mode:\n" + "\n".join(found)
    page.emulate_media(color_scheme="light")


def fits_width(page) -> bool:
    """Nothing scrolls sideways (the page's content is no wider than the viewport)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
