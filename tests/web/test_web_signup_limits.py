"""Sign-up limits: so many new accounts per client address and per network (IPv4 /24, IPv6
/64) per window, in memory and shared across server processes on Redis."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import fast_config
from triptych.web.app import create_app
from triptych.web.signup_limits import network_of

PASSWORD = "violet-orbit-53"


@pytest.fixture
def web_config():
    return fast_config(signup_per_address=2, signup_per_network=3, signup_window_minutes=60)


def sign_up(app, address: str, email: str):
    with TestClient(app, client=(address, 50000)) as c:
        return c.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})


def test_networks_are_ipv4_slash_24_and_ipv6_slash_64():
    assert network_of("203.0.113.7") == "203.0.113.0/24"
    assert network_of("::ffff:203.0.113.7") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert network_of("testclient") == "testclient"


def test_sign_ups_are_limited_per_address_then_per_network(app):
    codes = [sign_up(app, "203.0.113.7", f"a{i}@example.com").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    refused = sign_up(app, "203.0.113.7", "a9@example.com")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "Too many new accounts" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) > 0
    assert sign_up(app, "203.0.113.8", "b@example.com").status_code == 201  # 3rd of the /24
    assert sign_up(app, "203.0.113.9", "c@example.com").status_code == 429  # 4th of the /24
    assert sign_up(app, "198.51.100.1", "d@example.com").status_code == 201  # another network

    v6 = [sign_up(app, f"2001:db8:0:1::{i}", f"v6-{i}@example.com").status_code
          for i in range(1, 5)]
    assert v6 == [201, 201, 201, 429]  # four addresses, one /64
    assert sign_up(app, "2001:db8:0:2::1", "v6-other@example.com").status_code == 201


def test_a_refused_sign_up_creates_nothing_and_the_page_says_why(app, tp):
    for i in range(2):
        sign_up(app, "192.0.2.1", f"ok{i}@example.com")
    with TestClient(app, client=("192.0.2.1", 50000)) as c:
        page = c.get("/signup").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        r = c.post("/signup", data={"email": "third@example.com", "password": PASSWORD,
                                    "csrf_token": token})
    assert r.status_code == 429 and "Too many new accounts" in r.text
    with pytest.raises(Exception, match="No account"):
        tp.accounts.by_email("third@example.com")


def test_the_limits_are_shared_by_server_processes_on_redis(tp, redis_url):
    tp.settings.redis_url = redis_url
    config = fast_config(signup_per_address=2, signup_per_network=3)
    first, second = create_app(tp, config), create_app(tp, config)  # two server processes
    # Fresh keys on the shared Redis, which keeps earlier runs' counts for the window: a
    # random /64 (from `secrets`, which no test's random.seed() makes repeat).
    net = f"2001:db8:{secrets.randbelow(1 << 16):x}:{secrets.randbelow(1 << 16):x}"
    assert sign_up(first, f"{net}::1", "r1@example.com").status_code == 201
    assert sign_up(second, f"{net}::1", "r2@example.com").status_code == 201
    assert sign_up(first, f"{net}::1", "r3@example.com").status_code == 429
    assert sign_up(second, f"{net}::2", "r4@example.com").status_code == 201
    assert sign_up(first, f"{net}::3", "r5@example.com").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(tp):
    app = create_app(tp, fast_config(signup_per_address=1, signup_per_network=100,
                                     trusted_proxies="10.9.9.9"))

    def via(peer: str, forwarded: str, email: str) -> int:
        with TestClient(app, client=(peer, 50000)) as c:
            return c.post("/v1/auth/signup", headers={"X-Forwarded-For": forwarded},
                          json={"email": email, "password": PASSWORD}).status_code

    assert via("10.9.9.9", "198.51.100.20", "p1@example.com") == 201
    assert via("10.9.9.9", "198.51.100.21", "p2@example.com") == 201  # another client
    assert via("10.9.9.9", "198.51.100.20", "p3@example.com") == 429
    # Anyone else's header is ignored: their own address is what counts.
    assert via("192.0.2.50", "198.51.100.99", "p4@example.com") == 201
    assert via("192.0.2.50", "198.51.100.98", "p5@example.com") == 429
