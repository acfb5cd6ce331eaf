"""Accounts over HTTP: sign-up, log-in, log-out, sessions, CSRF, mass assignment."""

from __future__ import annotations

from sqlalchemy import select

from triptych.db.models import User


def signup(client, email="ann@example.com", password="s3cret-pass"):
    return client.post("/v1/auth/signup", json={"email": email, "password": password})


def test_signup_creates_free_account_with_allowance_and_session(client, tp):
    r = signup(client)
    assert r.status_code == 201
    body = r.json()
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["plan"] == "free"
    assert body["user"]["role"] == "admin"  # first account on a fresh install
    assert body["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "triptych_session=" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    credits = client.get("/v1/credits").json()
    assert credits["available"] == 50 and credits["monthly_allowance"] == 50
    assert credits["renews_on"] == "2026-04-01"
    with tp.ctx.sessions.begin() as s:
        stored = s.scalar(select(User).where(User.email == "ann@example.com")).password_hash
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored

    second = signup(client, "bob@example.com").json()
    assert second["user"]["role"] == "user"


def test_signup_rejects_mass_assignment_duplicates_and_bad_input(client):
    r = client.post("/v1/auth/signup", json={"email": "x@example.com", "password": "password1",
                                             "role": "admin", "credits": 10**6})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["field"] in ("role", "credits")
    assert signup(client).status_code == 201
    dup = signup(client)
    assert dup.status_code == 422 and dup.json()["error"]["field"] == "email"
    short = signup(client, "y@example.com", "short")
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"
    bad = signup(client, "not-an-email", "password1")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"
    form = client.post("/v1/auth/signup", content='{"email":"z@example.com","password":"pass1234"}',
                       headers={"content-type": "text/plain"})
    assert form.status_code == 415  # a cross-site form cannot post JSON
    assert form.json()["error"]["code"] == "unsupported_media_type"


def test_login_logout_and_csrf(client):
    signup(client)
    client.cookies.clear()
    assert client.get("/v1/me").status_code == 401
    wrong = client.post("/v1/auth/login", json={"email": "ann@example.com", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    unknown = client.post("/v1/auth/login", json={"email": "who@example.com", "password": "x"})
    assert unknown.status_code == 401
    ok = client.post("/v1/auth/login", json={"email": "ANN@example.com", "password": "s3cret-pass"})
    assert ok.status_code == 200
    csrf = ok.json()["csrf_token"]
    assert client.get("/v1/me").json()["email"] == "ann@example.com"

    # Cookie-authenticated writes need the session's CSRF token.
    no_token = client.post("/v1/keys", json={"name": "x"})
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "forbidden"
    wrong_token = client.post("/v1/keys", json={"name": "x"}, headers={"X-CSRF-Token": "nope"})
    assert wrong_token.status_code == 403
    assert client.post("/v1/keys", json={"name": "x"},
                       headers={"X-CSRF-Token": csrf}).status_code == 201

    assert client.post("/v1/auth/logout").status_code == 403  # logout is a write too
    assert client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/v1/me").status_code == 401


def test_stolen_cookie_dies_with_logout(client):
    r = signup(client)
    token = client.cookies.get("triptych_session")
    csrf = r.json()["csrf_token"]
    client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.clear()
    client.cookies.set("triptych_session", token)
    replay = client.get("/v1/me")
    assert replay.status_code == 401


def test_me_and_content_mode_opt_in(client, tp, alice):
    me = client.get("/v1/me", headers=alice).json()
    assert me["unrestricted_opt_in"] is False and "password_hash" not in me
    free = client.patch("/v1/me", json={"unrestricted_opt_in": True}, headers=alice)
    assert free.status_code == 422 and free.json()["error"]["field"] == "plan"
    tp.set_plan("alice@example.com", "pro")
    pro = client.patch("/v1/me", json={"unrestricted_opt_in": True}, headers=alice)
    assert pro.status_code == 200 and pro.json()["unrestricted_opt_in"] is True
    assert client.patch("/v1/me", json={"plan": "pro"}, headers=alice).status_code == 422


def test_missing_or_malformed_credentials(client):
    assert client.get("/v1/credits").status_code == 401
    r = client.get("/v1/credits", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/v1/credits",
                      headers={"Authorization": "Bearer tpk_nope_nope"}).status_code == 401
