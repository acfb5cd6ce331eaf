"""Operator-written lists of hosts and networks (``address_lists.py``): what parses, what
is refused at start, and what an entry matches."""

from __future__ import annotations

import ipaddress

import pytest

from triptych.address_lists import UpstreamAllow, parse_entry, parse_networks
from triptych.settings import Settings


def test_allow_list_entries_parse() -> None:
    assert str(UpstreamAllow.parse(" 127.0.0.2:8080, minio.internal ,10.0.0.0/8,[::1]:9000,"
                                   "fd00::/8,[fd00::/8]:443, Images.Local.:81")) == (
        "127.0.0.2/32:8080,minio.internal,10.0.0.0/8,[::1/128]:9000,fd00::/8,"
        "[fd00::/8]:443,images.local:81")
    for bad in ("127.0.0.1:0", "127.0.0.1:65536", "http://x", "a b", "2130706433", "[::1]x"):
        with pytest.raises(ValueError):
            parse_entry(bad)


def test_entries_match_name_or_network_and_port() -> None:
    allow = UpstreamAllow.parse("minio.internal:9000,10.0.0.0/8")
    ip = ipaddress.ip_address
    assert allow.allows("minio.internal", ip("10.9.9.9"), 9000)
    assert not allow.allows("minio.internal", ip("192.168.1.1"), 9001)
    assert allow.allows("cdn.local", ip("10.1.2.3"), 443)
    assert allow.allows("cdn.local", ip("::ffff:10.1.2.3"), 443)
    assert not allow.allows("cdn.local", ip("192.168.1.1"), 443)


def test_networks_parse() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.0/8, 192.168.1.7,::1 ,")] == [
        "10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    with pytest.raises(ValueError, match="10.0.0.300"):
        parse_networks("10.0.0.300")


def test_settings_refuse_a_typo_at_start() -> None:
    for field, value in (("upstream_allow", "minio.internal:99999"),
                         ("trusted_proxies", "10.0.0.0/33")):
        with pytest.raises(ValueError, match=field):
            Settings(_env_file=None, **{field: value})
