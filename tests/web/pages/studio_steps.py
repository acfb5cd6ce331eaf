"""Steps the studio's browser tests share: generate from the create page, hold a fake model
mid-run (its engine waits on a gate after sending a preview), read the header's balance."""

from __future__ import annotations

import threading

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def generate(page, base: str, prompt: str, model: str = "fake-draft", n: int = 4,
             seed: str = "", wait: bool = True, keyboard: bool = False) -> None:
    if not page.url.startswith(f"{base}/create"):
        page.goto(f"{base}/create")
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Model", exact=True).select_option(model)
    page.get_by_label("Images", exact=True).select_option(str(n))
    if seed:
        page.locator("details.options summary").click()
        page.get_by_label("Seed", exact=True).fill(seed)
    expect(page.locator("#quote-total")).to_be_visible()
    if keyboard:
        page.get_by_label("Prompt", exact=True).press("Control+Enter")
    else:
        page.get_by_role("button", name="Generate").click()
    if wait:
        expect(page.get_by_test_id("result-image")).to_have_count(n)


def balance(page) -> int:
    return int(page.get_by_test_id("credit-balance").inner_text())


def gate(fake_factory, model: str) -> threading.Event:
    """Hold ``model``'s runs after their preview until the returned event is set."""
    release = threading.Event()
    fake_factory.engine(model).before_return = lambda _request: release.wait(30)
    return release
