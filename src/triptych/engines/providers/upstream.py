"""Where a provider result download may connect: public addresses only, checked after DNS
resolution and pinned, so the name cannot resolve elsewhere between the check and the connect.

A provider's answer names the URL Triptych downloads the image from, and the bytes end up in
the user's gallery. A URL pointing inside the operator's network (``http://127.0.0.1:6379``,
``http://169.254.169.254/latest/meta-data``, a name that resolves there) would make Triptych
fetch and serve what lives there. So a download connects only to an address that is globally
routable:

    refused                          examples
    loopback                         127.0.0.0/8 (also as 2130706433, 0x7f000001, 0177.0.0.1,
                                     127.1), ::1, localhost
    private (RFC 1918)               10/8, 172.16/12, 192.168/16
    shared address space (CGNAT)     100.64/10
    link-local                       169.254/16, fe80::/10
    unique-local                     fc00::/7
    unspecified, multicast           0.0.0.0, ::, 224/4, ff00::/8
    reserved and not routable        240/4, documentation and benchmarking ranges
    cloud metadata, always           169.254.169.254, fd00:ec2::254, 100.100.100.200,
                                     metadata.google.internal (even when allow-listed)

An IPv4 address carried inside an IPv6 one (``::ffff:127.0.0.1``, NAT64, 6to4, Teredo) is
judged by the IPv4 address. Every address a name resolves to must pass, and the connection
goes to the first one: ``PinnedTransport`` rewrites the request's URL to that address while
the ``Host`` header keeps the name and TLS keeps it for SNI and certificate checks.

``UpstreamAllow`` is the operator's way through for a self-hosted upstream
(``TRIPTYCH_UPSTREAM_ALLOW``): host names, addresses or CIDRs, each optionally with a port.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import httpx

from triptych.address_lists import LEGACY_IPV4, IPAddress, UpstreamAllow

METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog"})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
    "169.254.170.2",  # AWS ECS task credentials
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedUpstream(Exception):
    """A download would have connected to an address it may not reach."""

    def __init__(self, host: str, address: str | None, reason: str) -> None:
        at = f" ({address})" if address and address != host else ""
        super().__init__(f"{host}{at} is {reason}")
        self.host = host
        self.address = address
        self.reason = reason


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why a download may not connect to ``ip`` (None: it may)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return refusal(inner)
        ip = ipaddress.IPv6Address(int(ip))  # drop a %scope
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks: list[tuple[bool, str]] = [
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _SHARED, "in the shared address space (carrier-grade NAT)"),
        (ip in _UNIQUE_LOCAL, "a unique-local address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a globally routable address"),
    ]
    return next((why for refused, why in checks if refused), None)


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for, in every form the C resolver
    accepts (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``), or None for a name."""
    host = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))  # in order, once each


class UpstreamGuard:
    """Resolves a download's host and says which address it may connect to, or refuses."""

    def __init__(self, allow: UpstreamAllow | str = "",
                 resolver: Resolver = system_resolver) -> None:
        self.allow = UpstreamAllow.parse(allow) if isinstance(allow, str) else allow
        self._resolve = resolver

    def refuse_literal(self, host: str, port: int) -> None:
        """The checks that need no DNS: metadata names and hosts written as numbers."""
        name = host.strip("[]").lower().rstrip(".")
        if name in METADATA_NAMES:
            raise RefusedUpstream(name, None, "a cloud metadata name")
        ip = literal_address(name)
        if ip is not None:
            self._judge(name, ip, port)

    def address_for(self, host: str, port: int) -> IPAddress:
        """The checked address to connect to; ``RefusedUpstream`` if any address the host
        resolves to is refused; ``httpx.ConnectError`` if it does not resolve."""
        name = host.strip("[]").lower().rstrip(".")
        self.refuse_literal(name, port)
        literal = literal_address(name)
        if literal is not None:
            return literal
        try:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolve(name, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpx.ConnectError(f"cannot resolve {name!r}: {exc}") from None
        if not found:
            raise httpx.ConnectError(f"{name!r} resolves to no address")
        for ip in found:
            self._judge(name, ip, port)
        return found[0]

    def _judge(self, name: str, ip: IPAddress, port: int) -> None:
        why = refusal(ip)
        if why is None:
            return
        if why == "a cloud metadata address" or not self.allow.allows(name, ip, port):
            raise RefusedUpstream(name, str(ip), why)


class PinnedTransport(httpx.BaseTransport):
    """Connects each request to the address ``UpstreamGuard`` checked (redirects are
    separate requests, so each hop is checked again)."""

    def __init__(self, guard: UpstreamGuard, inner: httpx.BaseTransport | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        ip = self.guard.address_for(url.host, port)
        # The Host header was set from the name when the request was built; SNI and the
        # certificate check keep the name too.
        extensions: dict[str, Any] = dict(request.extensions)
        if url.scheme == "https" and literal_address(url.host) is None:
            extensions["sni_hostname"] = url.host
        request.url = url.copy_with(host=str(ip))
        request.extensions = extensions
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
