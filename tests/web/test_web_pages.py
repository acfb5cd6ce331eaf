"""Server-rendered pages: sign-in forms, CSRF on every state-changing form, no open redirect,
keys shown once, admin-only pages, security headers, static assets served locally."""

from __future__ import annotations

import re

import pytest

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(client, path: str) -> str:
    return TOKEN.search(client.get(path).text).group(1)


def sign_up(client, email="page@example.com", password="password-123") -> None:
    token = form_token(client, "/signup")
    r = client.post("/signup", data={"email": email, "password": password, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/create?welcome=1"


def test_signup_login_logout_pages(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/gallery", follow_redirects=False).headers["location"] == \
        "/login?next=/gallery"
    sign_up(client)
    page = client.get("/create?welcome=1").text
    assert 'data-testid="credit-balance">50<' in page
    session_token = TOKEN.search(page).group(1)

    missing = client.post("/logout", data={}, follow_redirects=False)
    assert missing.status_code == 403
    out = client.post("/logout", data={"csrf_token": session_token}, follow_redirects=False)
    assert out.headers["location"] == "/login?signed_out=1"
    assert client.get("/create", follow_redirects=False).status_code == 303

    token = form_token(client, "/login")
    bad = client.post("/login", data={"email": "page@example.com", "password": "wrong",
                                      "csrf_token": token})
    assert bad.status_code == 401 and "Wrong email or password" in bad.text
    token = form_token(client, "/login")
    ok = client.post("/login", follow_redirects=False,
                     data={"email": "page@example.com", "password": "password-123",
                           "csrf_token": token, "next": "//evil.example/steal"})
    assert ok.headers["location"] == "/create"  # no open redirect


def test_anonymous_forms_need_their_token(client):
    client.get("/login")
    r = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert r.status_code == 403
    r = client.post("/signup", data={"email": "a@example.com", "password": "password-1",
                                     "csrf_token": "forged"})
    assert r.status_code == 403
    client.cookies.set("triptych_csrf", "forged")
    r = client.post("/signup", data={"email": "a@example.com", "password": "password-1",
                                     "csrf_token": "forged"})
    assert r.status_code == 403  # the cookie is signed; a planted one does not verify


def test_account_keys_shown_once_and_revoked_by_form(client):
    sign_up(client)
    token = form_token(client, "/account")
    made = client.post("/account/keys", data={"name": "laptop", "csrf_token": token},
                       follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/account"
    assert "tpk_" not in made.headers["location"] + made.text  # never in a URL or the POST
    shown = client.get("/account")
    assert shown.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key-value">([^<]+)<', shown.text).group(1)
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    again = client.get("/account").text  # a reload: shown once, and no second key
    assert secret not in again and "laptop" in again
    assert again.count("/revoke") == 1
    key_id = re.search(r'/account/keys/([0-9a-f]+)/revoke', again).group(1)
    assert client.post(f"/account/keys/{key_id}/revoke", data={}).status_code == 403
    client.post(f"/account/keys/{key_id}/revoke", data={"csrf_token": token})
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    forged = client.post("/account/keys", data={"name": "x", "csrf_token": "nope"})
    assert forged.status_code == 403


def test_content_mode_for_pro_and_admin_pages(client, tp):
    sign_up(client, "first@example.com")  # first account: admin
    token = form_token(client, "/admin")
    client.post("/admin/plan", data={"email": "first@example.com", "plan": "pro",
                                     "csrf_token": token})
    account = client.get("/account").text
    assert "Allow unrestricted mode" in account
    client.post("/account/content-mode", data={"unrestricted": "on", "csrf_token": token})
    assert client.get("/v1/me").json()["unrestricted_opt_in"] is True
    granted = client.post("/admin/grant", data={"email": "first@example.com", "amount": "7",
                                                "reason": "thanks", "csrf_token": token})
    assert "Granted 7" in granted.text

    client.cookies.clear()
    sign_up(client, "second@example.com")
    assert client.get("/admin").status_code == 403
    token = form_token(client, "/account")
    r = client.post("/admin/grant", data={"email": "second@example.com", "amount": "9",
                                          "reason": "self", "csrf_token": token})
    assert r.status_code == 403
    assert "Admin</a>" not in client.get("/create").text


@pytest.mark.parametrize("path", ["/create", "/compare", "/gallery", "/credits", "/models",
                                  "/account"])
def test_pages_render_with_security_headers(client, path):
    sign_up(client)
    r = client.get(path)
    assert r.status_code == 200
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert '<meta name="viewport"' in r.text and 'lang="en"' in r.text
    assert "http://" not in r.text.replace("http://host", "")  # nothing from a CDN


def test_models_guide_and_static_assets(client):
    guide = client.get("/models").text  # public
    for family in ("Diffusion", "Distilled diffusion", "Autoregressive", "Transformer",
                   "Diffusion transformer (DiT)", "Diffusion + LLM"):
        assert f">{family}</dt>" in guide
    assert "Speed against quality" in guide and "When to use which" in guide
    assert 'id="model-fake-premium"' in guide
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")


def test_gallery_search_delete_and_job_page(client, tp):
    sign_up(client)
    from tests.web.conftest import wait_job

    token = form_token(client, "/account")
    headers = {"X-CSRF-Token": token}
    job = client.post("/v1/generations", json={"prompt": "green tree"}, headers=headers).json()
    job = wait_job(client, headers, job["id"])
    assert "green tree" in client.get("/gallery?q=green").text
    assert "green tree" not in client.get("/gallery?q=purple").text
    page = client.get(f"/jobs/{job['id']}").text
    assert job["images"][0]["url"] in page and 'data-field="charged">1<' in page
    image_id = job["images"][0]["id"]
    client.post(f"/gallery/images/{image_id}/delete", data={"csrf_token": token})
    assert client.get(f"/v1/images/{image_id}").status_code == 404
    assert client.get("/jobs/" + "0" * 32).status_code == 404
