"""Lists of hosts and networks an operator writes in a setting: the upstreams a provider
result download may reach although they are not public (``TRIPTYCH_UPSTREAM_ALLOW``, see
``engines/providers/upstream.py``) and the reverse proxies whose ``X-Forwarded-For`` is
believed (``TRIPTYCH_TRUSTED_PROXIES``, see ``web/client_ip.py``).

Standard library only: ``settings`` parses them at start, so a typo fails there, naming the
entry."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
# A host written as a number in one of the forms the C resolver accepts (2130706433,
# 0x7f000001, 0177.0.0.1, 127.1): an address, never a name.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry: a host name or a network, and optionally a port."""

    name: str | None
    network: IPNetwork | None
    port: int | None

    def matches(self, name: str, ip: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name is not None:
            return self.name == name
        assert self.network is not None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.version == self.network.version and ip in self.network

    def __str__(self) -> str:
        where = self.name or str(self.network)
        if self.port is None:
            return where
        return f"[{where}]:{self.port}" if ":" in where else f"{where}:{self.port}"


def parse_entry(text: str) -> AllowEntry:
    """``host``, ``host:port``, ``10.0.0.0/8``, ``10.0.0.5:9000``, ``[fd00::/8]:443``,
    ``::1`` (a bare IPv6 address or network takes no port; bracket it to add one)."""
    raw = text.strip()
    where, port = raw, None
    if raw.startswith("["):
        inside, _, rest = raw[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{raw!r}: expected [address]:port")
        where, port = inside, rest[1:] or None
    elif raw.count(":") == 1:
        where, port = raw.split(":")
    number = None
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{raw!r}: {port!r} is not a port")
        number = int(port)
    try:
        return AllowEntry(None, ipaddress.ip_network(where, strict=False), number)
    except ValueError:
        pass
    name = where.lower().rstrip(".")
    if not _HOST_NAME.match(name) or LEGACY_IPV4.match(name):
        raise ValueError(f"{raw!r} is not a host name, address or CIDR")
    return AllowEntry(name, None, number)


class UpstreamAllow:
    """The operator's allow-list (``TRIPTYCH_UPSTREAM_ALLOW``, comma-separated)."""

    def __init__(self, entries: Iterable[AllowEntry] = ()) -> None:
        self.entries = tuple(entries)

    @classmethod
    def parse(cls, text: str) -> UpstreamAllow:
        return cls(parse_entry(part) for part in text.split(",") if part.strip())

    def allows(self, name: str, ip: IPAddress, port: int) -> bool:
        return any(entry.matches(name, ip, port) for entry in self.entries)

    def __str__(self) -> str:
        return ",".join(str(e) for e in self.entries)


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.0/8, 192.168.1.7, ::1`` -> networks (an address is a network of one)."""
    networks = []
    for part in text.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not an address or CIDR") from None
    return tuple(networks)
