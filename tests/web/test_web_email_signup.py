"""Sign-up on an install that sends mail (a real SMTP server on 127.0.0.1): every sign-up
answers "check your email", identically for a new and a taken address; the emailed link
finishes it (signs in, starts the monthly credits); a pending account cannot log in."""

from __future__ import annotations

import re

import pytest

from tests.conftest import BOTH_DBS
from tests.support.smtp_server import (
    PUBLIC_URL,
    link_in,
    mail_settings,
    token_in,
)

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "violet-orbit-53"


@pytest.fixture
def settings(tmp_path, smtp):
    return mail_settings(tmp_path / "home", smtp.url)


def api_signup(client, email, password=PASSWORD):
    return client.post("/v1/auth/signup", json={"email": email, "password": password})


def form_token(client, path: str) -> str:
    return TOKEN.search(client.get(path).text).group(1)


def page_signup(client, email, password=PASSWORD):
    token = form_token(client, "/signup")
    return client.post("/signup", data={"email": email, "password": password,
                                        "csrf_token": token}, follow_redirects=False)


# A cookie's expiry is a clock reading: two answers a second apart differ only there.
EXPIRES = re.compile(r"expires=[^;]+")


def timeless_headers(response) -> list[tuple[str, str]]:
    return sorted((k, EXPIRES.sub("expires=*", v)) for k, v in response.headers.items())


def same_answer(a, b) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert timeless_headers(a) == timeless_headers(b)


@BOTH_DBS
def test_api_sign_up_answers_the_same_for_a_taken_address(client, tp, smtp):
    tp.accounts.create_user("taken@example.com", password_hash="owners")
    client.cookies.clear()
    new = api_signup(client, "new@example.com")
    client.cookies.clear()
    taken = api_signup(client, "taken@example.com")
    same_answer(new, taken)
    assert new.status_code == 202 and new.json()["status"] == "check_email"
    assert "set-cookie" not in new.headers  # nobody is signed in before the link

    mails = {m["To"]: m for m in smtp.inbox.wait(2)}
    assert mails["new@example.com"]["Subject"] == "Confirm your email address"
    assert mails["taken@example.com"]["Subject"] == "Someone tried to sign up with your address"
    assert link_in(mails["taken@example.com"]).startswith(f"{PUBLIC_URL}/reset?token=")

    verified = client.post("/v1/auth/verify", json={"token": token_in(mails["new@example.com"])})
    assert verified.status_code == 200 and verified.json()["user"]["email_verified"] is True
    assert client.get("/v1/credits").json()["available"] == 50
    again = client.post("/v1/auth/verify", json={"token": token_in(mails["new@example.com"])})
    assert again.status_code == 422 and again.json()["error"]["field"] == "token"


def test_page_sign_up_answers_the_same_and_the_link_signs_in(client, tp, smtp):
    tp.accounts.create_user("taken@example.com", password_hash="owners")
    client.cookies.clear()
    new = page_signup(client, "new@example.com")
    client.cookies.clear()
    taken = page_signup(client, "taken@example.com")
    same_answer(new, taken)
    assert new.status_code == 303 and new.headers["location"] == "/signup/check-email"
    assert "Check your email" in client.get("/signup/check-email").text

    mail = next(m for m in smtp.inbox.wait(2) if m["To"] == "new@example.com")
    link = link_in(mail)
    page = client.get(link.removeprefix(PUBLIC_URL))
    assert page.status_code == 200 and "Confirm my address" in page.text
    assert tp.as_user("new@example.com").credits(statement=False)["available"] == 0  # not yet
    done = client.post("/verify", follow_redirects=False, data={
        "token": token_in(mail), "csrf_token": TOKEN.search(page.text).group(1)})
    assert done.status_code == 303 and done.headers["location"] == "/create?welcome=1"
    assert 'data-testid="credit-balance">50<' in client.get("/create").text

    client.cookies.clear()
    reuse = client.get(link.removeprefix(PUBLIC_URL))
    reused = client.post("/verify", data={"token": token_in(mail),
                                          "csrf_token": TOKEN.search(reuse.text).group(1)})
    assert reused.status_code == 400 and "does not work" in reused.text


def test_a_pending_account_cannot_log_in_and_says_nothing_more(client, smtp):
    api_signup(client, "pending@example.com")
    pending = client.post("/v1/auth/login", json={"email": "pending@example.com",
                                                  "password": PASSWORD})
    unknown = client.post("/v1/auth/login", json={"email": "unknown@example.com",
                                                  "password": PASSWORD})
    same_answer(pending, unknown)
    assert pending.status_code == 401 and "Open the link" in pending.json()["error"]["message"]


def test_sign_up_refuses_common_passwords_before_anything_is_sent(client, smtp):
    r = api_signup(client, "weak@example.com", "qwertyuiop")
    assert r.status_code == 422 and r.json()["error"]["field"] == "password"
    assert "most common" in r.json()["error"]["message"]
    page = page_signup(client, "weak@example.com", "1234567890")
    assert page.status_code == 422 and "most common" in page.text
    assert smtp.inbox.messages == []


def test_the_account_page_resends_the_link(client, tp, smtp, settings):
    settings.require_verified_email = False  # signed in at once; the address unconfirmed
    r = page_signup(client, "later@example.com")
    assert r.headers["location"] == "/create?welcome=1"
    page = client.get("/account").text
    assert 'data-testid="email-status">(not confirmed)' in page
    sent = client.post("/account/verification", follow_redirects=False,
                       data={"csrf_token": TOKEN.search(page).group(1)})
    assert sent.headers["location"] == "/account?verification_sent=1"
    [mail] = smtp.inbox.wait(1)
    assert link_in(mail).startswith(f"{PUBLIC_URL}/verify?token=")
    assert client.post("/v1/auth/verify", json={"token": token_in(mail)}).status_code == 200
    assert "(confirmed)" in client.get("/account").text


def test_without_verification_a_taken_address_is_refused_and_its_owner_told(client, tp, smtp,
                                                                             settings):
    settings.require_verified_email = False  # signed in at once: see the module docstring
    tp.accounts.create_user("taken@example.com", password_hash="owners")
    taken = api_signup(client, "taken@example.com")
    assert taken.status_code == 422 and taken.json()["error"]["field"] == "email"
    [mail] = smtp.inbox.wait(1)
    assert mail["Subject"] == "Someone tried to sign up with your address"
    new = api_signup(client, "new@example.com")
    assert new.status_code == 201 and new.json()["user"]["email_verified"] is False
    assert client.get("/v1/credits").json()["available"] == 50  # no verification needed
