"""The admin pages through the HTTP layer: admins only (403 page otherwise); disabling an
account, ending its sign-ins and revoking its keys take effect at once; every action lands in
the audit log; usage adds up."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import BOTH_DBS
from tests.web.conftest import make_key
from tests.web.test_web_pages import form_token, sign_up
from triptych.errors import JobFailed, ModelUnavailable

PASSWORD = "correct horse battery"
PAGES = ["/admin", "/admin/users", "/admin/users/1", "/admin/usage", "/admin/providers",
         "/admin/catalog", "/admin/audit"]


def csrf(client: TestClient) -> str:
    return form_token(client, "/admin/catalog")


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    sign_up(client, "boss@example.com", PASSWORD)  # the first account: an admin
    return client


def test_only_admins_reach_the_admin_pages(admin, app) -> None:
    with TestClient(app) as other:
        sign_up(other, "someone@example.com", PASSWORD)
        for path in PAGES:
            page = other.get(path)
            assert page.status_code == 403, path
            assert "admin" in page.text.lower() and "<html" in page.text
        assert other.post("/admin/catalog/fake-draft/price",
                          data={"credits": "9", "csrf_token": "x"}).status_code == 403
    with TestClient(app) as anonymous:
        assert anonymous.get("/admin/users", follow_redirects=False).headers["location"] \
            == "/login?next=/admin/users"
    for path in PAGES:
        assert admin.get(path).status_code == 200, path


@BOTH_DBS
def test_catalog_page_changes_price_and_availability(admin, tp) -> None:
    token = csrf(admin)
    held = tp.as_user("pat@example.com").submit("a red circle", "fake-general")
    done = admin.post("/admin/catalog/fake-general/price",
                      data={"credits": "8", "csrf_token": token})
    assert "now costs 8 credits" in done.text
    row = re.search(r'<tr data-model="fake-general">.*?</tr>', done.text, re.S).group(0)
    assert "5 credits, on" in row and 'value="8"' in row and "override" in row
    admin.post("/admin/catalog/fake-general/disable", data={"csrf_token": token})
    refused = tp.as_user("pat@example.com")
    with pytest.raises(ModelUnavailable, match="turned off by the administrator"):
        refused.submit("a blue square", "fake-general")
    assert refused.run(held["id"])["charged"] == 5  # quoted and held before: it runs
    page = admin.post("/admin/catalog/fake-general/reset", data={"csrf_token": token}).text
    assert "follows its card again" in page
    audit = admin.get("/admin/audit").text
    assert [a for a in re.findall(r'data-action="([a-z.]+)"', audit)] == \
        ["model.reset", "model.disable", "model.price"]
    assert "boss@example.com" in audit and "5 → 8" in audit
    bad = admin.post("/admin/catalog/nope/price", data={"credits": "3", "csrf_token": token})
    assert "Unknown model" in bad.text


def test_disabling_an_account_ends_its_sessions_keys_and_sign_in(admin, app, tp) -> None:
    with TestClient(app) as victim:
        sign_up(victim, "pat@example.com", PASSWORD)
        key = make_key(tp, "pat@example.com")
        assert victim.get("/v1/credits").status_code == 200
        user_id = tp.accounts.by_email("pat@example.com").id
        page = admin.get(f"/admin/users/{user_id}").text
        assert 'data-testid="sessions"' in page and "tpk_" in page
        token = csrf(admin)
        out = admin.post(f"/admin/users/{user_id}/disable", data={"csrf_token": token})
        assert "is disabled" in out.text
        assert victim.get("/v1/credits").status_code == 401  # the session is gone
        assert victim.get("/v1/credits", headers=key).status_code == 401
        login = victim.post("/v1/auth/login", json={"email": "pat@example.com",
                                                    "password": PASSWORD})
        assert login.status_code == 403 and "disabled" in login.text
        admin.post(f"/admin/users/{user_id}/enable", data={"csrf_token": token})
        assert victim.get("/v1/credits", headers=key).status_code == 200
        assert victim.post("/v1/auth/login", json={"email": "pat@example.com",
                                                   "password": PASSWORD}).status_code == 200
    me = tp.accounts.by_email("boss@example.com").id
    own = admin.post(f"/admin/users/{me}/disable", data={"csrf_token": token})
    assert "cannot disable your own account" in own.text
    actions = re.findall(r'data-action="([a-z.]+)"', admin.get("/admin/audit").text)
    assert actions == ["user.enable", "user.disable"]


def test_sign_ins_and_keys_revoked_one_at_a_time(admin, app, tp) -> None:
    with TestClient(app) as victim:
        sign_up(victim, "pat@example.com", PASSWORD)
        key = make_key(tp, "pat@example.com")
        user_id = tp.accounts.by_email("pat@example.com").id
        page = admin.get(f"/admin/users/{user_id}").text
        session = re.search(r'/sessions/([0-9a-f]{16})/revoke', page).group(1)
        key_id = re.search(r'/keys/([0-9a-f]+)/revoke', page).group(1)
        token = csrf(admin)
        admin.post(f"/admin/users/{user_id}/sessions/{session}/revoke",
                   data={"csrf_token": token})
        assert victim.get("/v1/credits").status_code == 401
        assert victim.get("/v1/credits", headers=key).status_code == 200
        admin.post(f"/admin/users/{user_id}/keys/{key_id}/revoke", data={"csrf_token": token})
        assert victim.get("/v1/credits", headers=key).status_code == 401
        again = admin.post(f"/admin/users/{user_id}/sessions/{session}/revoke",
                           data={"csrf_token": token})
        assert "No such sign-in" in again.text
    actions = re.findall(r'data-action="([a-z.]+)"', admin.get("/admin/audit").text)
    assert actions == ["key.revoke", "session.revoke"]


def test_users_search_and_grant_from_the_user_page(admin, tp) -> None:
    for email in ("ann@north.example", "bob@south.example", "cat@north.example"):
        tp.accounts.create_user(email)
    found = admin.get("/admin/users?q=NORTH").text
    assert "ann@north.example" in found and "cat@north.example" in found
    assert "bob@south.example" not in found
    assert 'data-testid="no-users"' in admin.get("/admin/users?q=zzz").text
    user_id = tp.accounts.by_email("bob@south.example").id
    out = admin.post("/admin/grant", data={
        "email": "bob@south.example", "amount": "30", "reason": "pilot", "csrf_token": csrf(admin),
        "next": f"/admin/users/{user_id}"})
    assert out.url.path == f"/admin/users/{user_id}" and "Granted 30" in out.text
    assert '<dd data-testid="available">80</dd>' in out.text
    assert "granted credits" in out.text and "pilot" in out.text  # the account's own history


@BOTH_DBS
def test_usage_adds_up_by_model_day_and_failures(admin, tp, fake_factory) -> None:
    from triptych.engines.errors import RetryableError

    pat = tp.as_user("pat@example.com")
    pat.generate("one", "fake-general", n=2)
    pat.generate("two", "fake-draft")
    fake_factory.engine("fake-premium").fail_with = RetryableError("the provider is busy")
    with pytest.raises(JobFailed):
        pat.generate("three", "fake-premium")
    usage = tp.admin.usage(30)
    by_model = {m["model"]: (m["credits"], m["images"]) for m in usage["by_model"]}
    assert by_model == {"fake-general": (10, 2), "fake-draft": (1, 1), "fake-premium": (0, 0)}
    today = usage["by_day"][-1]
    assert (today["credits"], today["images"]) == (11, 3) and len(usage["by_day"]) == 30
    assert usage["failures"] == [{"provider": "Test", "total": 1,
                                  "codes": {"engine_retryable": 1}}]
    page = admin.get("/admin/usage").text
    assert 'data-testid="total-credits">11 credits' in page
    assert page.count('<rect class="bar"') == 2  # one day with credits, one with images
    assert "engine_retryable × 1" in page


def test_provider_health_page_reports_each_provider(admin) -> None:
    page = admin.get("/admin/providers").text
    for provider in ("bfl", "fal", "replicate", "openai"):
        assert f'data-provider="{provider}"' in page
    assert "not configured" in page and "TRIPTYCH_REPLICATE_API_KEY" in page
