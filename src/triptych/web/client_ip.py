"""Who is on the other end of a request: the one place the client's address comes from.

The peer of the TCP connection is the client, unless the peer is one of the operator's
reverse proxies (``TRIPTYCH_TRUSTED_PROXIES``, empty by default). Then ``X-Forwarded-For``
is read from the right: each trusted proxy appends the address it saw, so the right-most
address that is not itself a trusted proxy is the client. Anything left of it was written by
the client and may be anything, so it is never believed. ``Forwarded`` (RFC 7239) is not read.

``triptych serve`` turns uvicorn's own proxy-header handling off: it trusts
``X-Forwarded-For`` from 127.0.0.1 by default, which let anyone on the machine, or anything
a local proxy passed through, pick the address the sign-in throttle counts.

The log-in and sign-up throttles and anything else that needs the client's address call
``client_address``; nothing reads ``request.client`` directly.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from triptych.address_lists import IPAddress, IPNetwork, parse_networks

trusted_networks = lru_cache(maxsize=16)(parse_networks)


def _address(text: str) -> IPAddress | None:
    """An ``X-Forwarded-For`` entry as an address: ``1.2.3.4``, ``1.2.3.4:5678``,
    ``[2001:db8::1]:443`` or ``2001:db8::1``; None when it is none of those."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IPAddress | None, networks: tuple[IPNetwork, ...]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)


def forwarded_client(peer: str, forwarded_for: list[str],
                     networks: tuple[IPNetwork, ...]) -> str:
    """The client's address, given the connection's ``peer``, the ``X-Forwarded-For`` header
    values in order, and the trusted proxies."""
    if not _trusted(_address(peer), networks):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _address(hop)
        if not _trusted(ip, networks):
            # What a trusted proxy says it saw; not an address at all is a proxy's mistake,
            # kept (bounded) so those clients do not share one bucket with everyone.
            return str(ip) if ip is not None else hop[:64]
    # Every hop is one of our proxies: the request started at the left-most of them.
    first = _address(hops[0]) if hops else None
    return str(first) if first is not None else peer


def peer_of(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def client_address(request: Request) -> str:
    """The address of whoever sent ``request`` (see the module docstring)."""
    networks = trusted_networks(request.app.state.web.config.trusted_proxies)
    return forwarded_client(peer_of(request.scope), request.headers.getlist("x-forwarded-for"),
                            networks)


class ForwardedProto:
    """A trusted proxy that terminates TLS says so with ``X-Forwarded-Proto``; links the
    server builds (the OpenAI-compatible ``url`` results) then start with ``https``."""

    def __init__(self, app: ASGIApp, trusted_proxies: str) -> None:
        self.app = app
        self.networks = trusted_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] in ("http", "websocket") and self.networks
                and _trusted(_address(peer_of(scope)), self.networks)):
            values = [v.decode("latin-1") for k, v in scope["headers"]
                      if k == b"x-forwarded-proto"]
            proto = values[-1].split(",")[-1].strip().lower() if values else ""
            if proto in ("http", "https", "ws", "wss"):
                secure = proto in ("https", "wss")
                if scope["type"] == "websocket":
                    scope = {**scope, "scheme": "wss" if secure else "ws"}
                else:
                    scope = {**scope, "scheme": "https" if secure else "http"}
        await self.app(scope, receive, send)
