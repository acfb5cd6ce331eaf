"""Password reset over HTTP with a real SMTP server: the "forgot" answer is the same whether
or not the address has an account; a link works once, expires, ends every other session, and
of concurrent uses exactly one wins; ``triptych users reset-link`` gives an account without
a password its first one."""

from __future__ import annotations

import json
import re
import threading

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import BOTH_DBS
from tests.support.smtp_server import (
    PUBLIC_URL,
    link_in,
    mail_settings,
    token_in,
)
from tests.web.test_web_email_signup import same_answer
from triptych.cli import app as app_module
from triptych.cli.main import cli

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
OLD, NEW = "violet-orbit-53", "amber-kettle-88"


@pytest.fixture
def settings(tmp_path, smtp):
    return mail_settings(tmp_path / "home", smtp.url)


def with_password(client, tp, email="sam@example.com", password=OLD):
    """An account with a password, signed in on ``client``."""
    tp.accounts.create_user(email, password_hash=client.app.state.web.passwords.hash(password))
    assert client.post("/v1/auth/login", json={"email": email,
                                               "password": password}).status_code == 200


def form(client, path: str) -> str:
    return TOKEN.search(client.get(path).text).group(1)


def test_forgot_answers_the_same_whether_or_not_the_address_exists(client, tp, smtp):
    with_password(client, tp)
    client.cookies.clear()
    known = client.post("/v1/auth/forgot", json={"email": "sam@example.com"})
    unknown = client.post("/v1/auth/forgot", json={"email": "nobody@example.com"})
    same_answer(known, unknown)
    assert known.status_code == 202
    pages = []
    for email in ("sam@example.com", "nobody@example.com"):
        client.cookies.clear()
        token = form(client, "/forgot")
        pages.append(client.post("/forgot", data={"email": email, "csrf_token": token},
                                 follow_redirects=False))
    same_answer(*pages)
    assert pages[0].headers["location"] == "/forgot?sent=1"
    mails = smtp.inbox.wait(2)
    assert [m["To"] for m in mails] == ["sam@example.com"] * 2
    assert "nobody@example.com" not in [m["To"] for m in smtp.inbox.messages]


@BOTH_DBS
def test_a_reset_link_works_once_and_signs_out_every_other_session(app, tp, smtp):
    from fastapi.testclient import TestClient

    with TestClient(app) as laptop, TestClient(app) as phone:
        with_password(laptop, tp)
        assert phone.post("/v1/auth/login", json={"email": "sam@example.com",
                                                  "password": OLD}).status_code == 200
        phone.post("/v1/auth/forgot", json={"email": "sam@example.com"})
        [mail] = smtp.inbox.wait(1)
        link = link_in(mail).removeprefix(PUBLIC_URL)
        assert link.startswith("/reset?token=")

        phone.cookies.clear()
        page = phone.get(link)
        assert "Choose a new password" in page.text
        assert page.headers["cache-control"] == "no-store"
        weak = phone.post("/reset", data={"token": token_in(mail), "password": "qwertyuiop",
                                          "csrf_token": TOKEN.search(page.text).group(1)})
        assert weak.status_code == 422 and "most common" in weak.text
        done = phone.post("/reset", follow_redirects=False, data={  # the form as re-shown
            "token": token_in(mail), "password": NEW,
            "csrf_token": TOKEN.search(weak.text).group(1)})
        assert done.status_code == 303 and done.headers["location"] == "/create?password_reset=1"
        assert phone.get("/v1/me").json()["email"] == "sam@example.com"
        assert laptop.get("/v1/me").status_code == 401  # signed out everywhere else

        again = phone.post("/v1/auth/reset", json={"token": token_in(mail), "password": NEW})
        assert again.status_code == 422 and again.json()["error"]["field"] == "token"
        assert laptop.post("/v1/auth/login", json={"email": "sam@example.com",
                                                   "password": OLD}).status_code == 401
        assert laptop.post("/v1/auth/login", json={"email": "sam@example.com",
                                                   "password": NEW}).status_code == 200


def test_a_reset_link_expires(client, tp, smtp, clock):
    with_password(client, tp)
    client.post("/v1/auth/forgot", json={"email": "sam@example.com"})
    [mail] = smtp.inbox.wait(1)
    clock.advance(minutes=tp.settings.reset_link_minutes, seconds=1)
    late = client.post("/v1/auth/reset", json={"token": token_in(mail), "password": NEW})
    assert late.status_code == 422 and "does not work" in late.json()["error"]["message"]


@BOTH_DBS
def test_concurrent_uses_of_one_reset_link_let_exactly_one_win(live, tp, smtp):
    tp.accounts.create_user("race@example.com")
    token = tp.account_email.reset_link("race@example.com").split("token=")[1]
    racers = 6
    barrier = threading.Barrier(racers)
    answers: list[int] = []

    def use(i: int) -> None:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            barrier.wait()
            answers.append(http.post("/v1/auth/reset", json={
                "token": token, "password": f"{NEW}-{i}"}).status_code)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200] + [422] * (racers - 1)


def test_cli_reset_link_gives_a_passwordless_admin_a_password(client, tp, monkeypatch):
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    runner = CliRunner()
    created = runner.invoke(cli, ["users", "create", "root@example.com", "--admin",
                                  "--no-password"])
    assert created.exit_code == 0, created.output
    out = runner.invoke(cli, ["users", "reset-link", "root@example.com", "--json"])
    assert out.exit_code == 0, out.output
    url = json.loads(out.output)["url"]
    assert url.startswith(f"{PUBLIC_URL}/reset?token=")
    human = runner.invoke(cli, ["users", "reset-link", "root@example.com"]).output
    assert "/reset?token=" in human and "works once" in human
    missing = runner.invoke(cli, ["users", "reset-link", "nobody@example.com", "--json"])
    assert missing.exit_code == 1 and "No account" in missing.output

    r = client.post("/v1/auth/reset", json={"token": url.split("token=")[1], "password": NEW})
    assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
    client.cookies.clear()
    assert client.post("/v1/auth/login", json={"email": "root@example.com",
                                               "password": NEW}).status_code == 200
