"""Whose address a request carries (``web/client_ip.py``): ``X-Forwarded-For`` counts only
from a configured proxy, read from the right; so the sign-in throttle cannot be dodged by
writing the header, and still tells clients apart behind a real proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import serve_source
from triptych.address_lists import parse_networks
from triptych.web.client_ip import ForwardedProto, forwarded_client

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7, fd00::/8")


@pytest.mark.parametrize(("peer", "header", "client"), [
    # No proxy configured in front of this peer: the header is whatever the client wrote.
    ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),
    ("127.0.0.1", ["1.2.3.4"], "127.0.0.1"),
    # Our proxy appended what it saw; the left part is the client's own invention.
    ("10.0.0.2", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),
    ("10.0.0.2", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),  # the header twice
    # Two of our proxies in a row: skip both.
    ("10.0.0.2", ["6.6.6.6, 203.0.113.9, 192.168.1.7"], "203.0.113.9"),
    ("192.168.1.7", ["203.0.113.9:51234, 10.1.1.1"], "203.0.113.9"),  # with a port
    ("fd00::5", ["[2001:db8::7]:443"], "2001:db8::7"),
    ("::ffff:10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
    # The proxy sent no header, or only proxies: the furthest one we know of.
    ("10.0.0.2", [], "10.0.0.2"),
    ("10.0.0.2", ["10.9.9.9, 10.0.0.3"], "10.9.9.9"),
    ("10.0.0.2", ["unknown"], "unknown"),
])
def test_forwarded_client(peer: str, header: list[str], client: str) -> None:
    assert forwarded_client(peer, header, PROXIES) == client


def test_without_proxies_the_peer_is_the_client() -> None:
    assert forwarded_client("10.0.0.2", ["203.0.113.9"], ()) == "10.0.0.2"


def _scheme_seen(peer: str, headers: list[tuple[bytes, bytes]]) -> str:
    seen: dict[str, str] = {}

    async def app(scope, receive, send) -> None:
        seen["scheme"] = scope["scheme"]

    scope = {"type": "http", "scheme": "http", "client": (peer, 5000), "headers": headers}
    asyncio.run(ForwardedProto(app, "10.0.0.0/8")(scope, None, None))
    return seen["scheme"]


def test_forwarded_proto_is_believed_only_from_a_proxy() -> None:
    tls = [(b"x-forwarded-proto", b"https")]
    assert _scheme_seen("10.0.0.2", tls) == "https"
    assert _scheme_seen("203.0.113.9", tls) == "http"
    assert _scheme_seen("10.0.0.2", []) == "http"


# ------------------------------------------------------------------ the throttle, for real

BURST = 3
THROTTLED = {"TRIPTYCH_AUTH_BURST": str(BURST), "TRIPTYCH_AUTH_PER_MINUTE": "0.5",
             "TRIPTYCH_PASSWORD_TIME_COST": "1", "TRIPTYCH_PASSWORD_MEMORY_KIB": "1024",
             "TRIPTYCH_PASSWORD_PARALLELISM": "1"}


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`triptych serve` with no proxy configured, as installed."""
    proc, port = serve_source(Path(tmp_path_factory.mktemp("direct")), THROTTLED)
    yield f"http://127.0.0.1:{port}"
    proc.terminate(10)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`triptych serve` behind a proxy on 127.0.0.1 (the test plays the proxy)."""
    proc, port = serve_source(Path(tmp_path_factory.mktemp("proxied")),
                              {**THROTTLED, "TRIPTYCH_TRUSTED_PROXIES": "127.0.0.1/32"})
    yield f"http://127.0.0.1:{port}"
    proc.terminate(10)


def login(url: str, forwarded_for: str) -> int:
    return httpx.post(f"{url}/v1/auth/login", headers={"X-Forwarded-For": forwarded_for},
                      json={"email": "alice@example.com", "password": "wrong password"},
                      timeout=30).status_code


def test_a_spoofed_header_does_not_dodge_the_throttle(direct: str) -> None:
    # Each try claims to come from somewhere else; all come from 127.0.0.1, which is no proxy.
    codes = [login(direct, f"198.51.100.{i}") for i in range(BURST + 2)]
    assert codes[:BURST] == [401] * BURST
    assert codes[BURST:] == [429, 429]


def test_behind_a_proxy_clients_are_told_apart_and_spoofing_still_fails(proxied: str) -> None:
    # The proxy appends the address it saw; the client controls only what is left of it.
    codes = [login(proxied, f"6.6.6.{i}, 203.0.113.9") for i in range(BURST + 1)]
    assert codes == [401] * BURST + [429]
    assert login(proxied, "203.0.113.10") == 401  # another client: its own allowance
