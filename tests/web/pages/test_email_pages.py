"""The email pages in the browser, at 1280x800 and 390x844, against an install that sends
mail to a real SMTP server on 127.0.0.1: sign up, open the emailed link, confirm, and land
signed in; forgot password, open the link, choose a new one. Each page fits the screen and
axe-core finds no serious or critical violation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.smtp_server import PUBLIC_URL, SmtpServer, link_in, mail_settings, smtp_server
from tests.web.conftest import fast_config, start_server
from tests.web.pages.conftest import PASSWORD, assert_accessible, fits_width, shot
from triptych.client import Triptych
from triptych.web.app import create_app


@dataclass
class MailStudio:
    url: str
    tp: Triptych
    smtp: SmtpServer

    def opened(self, message) -> str:
        """An emailed link, pointed at this test server instead of the public address."""
        return link_in(message).replace(PUBLIC_URL, self.url)


@pytest.fixture
def mail_studio(tmp_path, fake_catalog) -> Iterator[MailStudio]:
    with smtp_server() as smtp:
        tp = Triptych(mail_settings(tmp_path / "studio", smtp.url), catalog=fake_catalog)
        server = start_server(create_app(tp, fast_config()))
        yield MailStudio(server.url, tp, smtp)
        server.stop()


def check(page, name: str) -> None:
    assert fits_width(page), f"{name} scrolls sideways at {page.size}"
    assert_accessible(page)
    shot(page, name)


def test_sign_up_through_the_emailed_link(mail_studio, page):
    base = mail_studio.url
    page.goto(f"{base}/signup")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/signup/check-email")
    assert page.get_by_role("heading", name="Check your email").is_visible()
    check(page, "signup-check-email")

    [mail] = mail_studio.smtp.inbox.wait(1)
    page.goto(mail_studio.opened(mail))
    check(page, "verify")
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_url(f"{base}/create**")
    assert page.get_by_test_id("credit-balance").inner_text() == "50"

    page.goto(mail_studio.opened(mail))  # the link again: used
    page.get_by_role("button", name="Confirm my address").click()
    assert page.get_by_role("alert").inner_text().startswith("This link does not work")
    check(page, "verify-used")


def test_forgot_and_reset_password(mail_studio, page):
    mail_studio.tp.accounts.create_user("sam@example.com")  # no password yet
    base = mail_studio.url
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(f"{base}/forgot")
    check(page, "forgot")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Email me a link").click()
    page.wait_for_url(f"{base}/forgot?sent=1")
    assert "If an account uses this address" in page.get_by_role("status").inner_text()

    [mail] = mail_studio.smtp.inbox.wait(1)
    page.goto(mail_studio.opened(mail))
    check(page, "reset")
    page.get_by_label("New password").fill("qwertyuiop")
    page.get_by_role("button", name="Save and sign in").click()
    assert "most common" in page.get_by_role("alert").inner_text()
    check(page, "reset-refused")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_role("button", name="Save and sign in").click()
    page.wait_for_url(f"{base}/create?password_reset=1")
