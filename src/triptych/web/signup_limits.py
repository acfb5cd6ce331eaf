"""Sign-up limits: so many new accounts per client address, and per network, per window.

One address is easy to change, a whole network is not: the second limit counts every
sign-up from the client's IPv4 /24 or IPv6 /64 (what one customer of an ISP or one cloud
host typically holds). Both are the rate limiters of ``ratelimit`` (a budget of N refilled
over the window; on Redis when one is configured, so every server process shares them), keyed
by the address that ``client_ip.client_address`` reports.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fastapi import Request

from triptych.web.client_ip import client_address
from triptych.web.config import WebConfig
from triptych.web.errors import RateLimited
from triptych.web.ratelimit import Limiter, make_limiter


def network_of(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) holding ``address``; a non-IP name stands for itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class SignupLimits:
    per_address: Limiter
    per_network: Limiter

    @classmethod
    def from_config(cls, config: WebConfig, redis_url: str | None) -> SignupLimits:
        minutes = max(1, config.signup_window_minutes)

        def limiter(count: int, name: str) -> Limiter:
            return make_limiter(redis_url, max(1, count) / minutes, max(1, count), name=name)

        return cls(limiter(config.signup_per_address, "signup-address"),
                   limiter(config.signup_per_network, "signup-network"))

    def check(self, request: Request) -> None:
        """Count one sign-up from this client; ``RateLimited`` when either budget is spent."""
        address = client_address(request)
        retry_after = self.per_address.hit(address)
        if retry_after is None:
            retry_after = self.per_network.hit(network_of(address))
        if retry_after is not None:
            minutes = max(1, round(retry_after / 60))
            raise RateLimited(f"Too many new accounts from your network; try again in about "
                              f"{minutes} minute{'s' if minutes != 1 else ''}.",
                              retry_after=retry_after)
