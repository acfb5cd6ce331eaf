"""Per-key rate limits (429 + Retry-After), sign-in throttling, and the admin endpoints."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import fast_config, make_key
from triptych.web.app import create_app
from triptych.web.ratelimit import RateLimiter


def test_token_bucket_refills():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, now=lambda: now[0])
    assert limiter.hit("k") is None and limiter.hit("k") is None
    assert limiter.hit("k") == 1
    assert limiter.hit("other") is None  # buckets are per key
    now[0] += 1.0
    assert limiter.hit("k") is None


@pytest.fixture
def strict(tp):
    app = create_app(tp, fast_config(rate_per_minute=60, rate_burst=3, auth_per_minute=60,
                                     auth_burst=2))
    with TestClient(app) as c:
        yield c


def test_per_key_rate_limit(strict, tp):
    one, two = make_key(tp, "alice@example.com"), make_key(tp, "alice@example.com")
    for _ in range(3):
        assert strict.get("/v1/credits", headers=one).status_code == 200
    r = strict.get("/v1/credits", headers=one)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert strict.get("/v1/credits", headers=two).status_code == 200  # per key


def test_login_attempts_are_throttled(strict):
    body = {"email": "a@example.com", "password": "wrong-password"}
    codes = [strict.post("/v1/auth/login", json=body).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_admin_endpoints(client, tp):
    admin = make_key(tp, "root@example.com", admin=True)
    user = make_key(tp, "user@example.com")
    for method, url, body in [("POST", "/v1/admin/credits",
                               {"email": "user@example.com", "amount": 5, "reason": "x"}),
                              ("POST", "/v1/admin/plan", {"email": "user@example.com",
                                                          "plan": "pro"}),
                              ("GET", "/v1/admin/jobs", None)]:
        r = client.request(method, url, json=body, headers=user)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    granted = client.post("/v1/admin/credits", headers=admin,
                          json={"email": "user@example.com", "amount": 25, "reason": "promo"})
    assert granted.status_code == 200 and granted.json()["purchased"] == 25
    memo = client.get("/v1/credits", headers=user).json()["statement"][0]["memo"]
    assert "promo" in memo
    plan = client.post("/v1/admin/plan", json={"email": "user@example.com", "plan": "pro"},
                       headers=admin)
    assert plan.json()["plan"] == "pro" and plan.json()["monthly_allowance"] == 500
    missing = client.post("/v1/admin/plan", json={"email": "ghost@example.com", "plan": "pro"},
                          headers=admin)
    assert missing.status_code == 404
    assert client.post("/v1/admin/credits", headers=admin,
                       json={"email": "u@example.com", "amount": 0, "reason": "x"}
                       ).status_code == 422

    client.post("/v1/generations", json={"prompt": "mine"}, headers=user)
    jobs = client.get("/v1/admin/jobs", headers=admin).json()["items"]
    assert [(j["user_email"], j["prompt"]) for j in jobs] == [("user@example.com", "mine")]
