"""docs/studio.md shows only screenshots that are in docs/screenshots/ (taken by the browser
tests and copied by scripts/docs_screenshots.py), at both sizes for each page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "docs_screenshots", ROOT / "scripts" / "docs_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_screenshot_the_page_shows_is_there():
    names = _script().referenced()
    assert len(names) >= 20
    missing = [n for n in names if not (ROOT / "docs" / "screenshots" / n).is_file()]
    assert not missing, f"run `make screenshots`: {missing}"


def test_pages_are_shown_at_both_sizes():
    names = set(_script().referenced())
    for name in names:
        if name.endswith("-desktop.png") and not name.startswith(("login", "signup")):
            assert name.replace("-desktop", "-phone") in names, name
