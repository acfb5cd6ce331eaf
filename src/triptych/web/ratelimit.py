"""Per-key request limits: ``hit(key) -> retry_after or None``.

``RateLimiter`` keeps a token bucket per key in process memory: right for one server process
(a restart forgetting the buckets is harmless). With several API processes each would allow
the full rate, so when a shared Redis is configured ``make_limiter`` gives the Redis-backed
``RedisRateLimiter`` (``ratelimit_redis``) instead: one budget per key across all of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Limiter(Protocol):
    def hit(self, key: str, cost: float = 1.0) -> int | None:
        """Take ``cost`` from ``key``'s budget; None if allowed, else whole seconds until it
        would be."""
        ...


def make_limiter(redis_url: str | None, per_minute: float, burst: int, *,
                 name: str) -> Limiter:
    """In memory, or on Redis (shared by every process) when ``redis_url`` is set. ``name``
    keeps limiters with different purposes apart on the shared store."""
    if redis_url is None:
        return RateLimiter(per_minute, burst)
    from triptych.web.ratelimit_redis import RedisRateLimiter

    return RedisRateLimiter(redis_url, per_minute, burst, name=name)


class RateLimiter:
    def __init__(self, per_minute: float, burst: int,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def hit(self, key: str, cost: float = 1.0) -> int | None:
        """Take ``cost`` tokens; None if allowed, else whole seconds until it would be."""
        now = self._now()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                if len(self._buckets) > 100_000:  # forget full buckets; they are the default
                    self._prune(now)
                return None
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((cost - tokens) / self.rate)) if self.rate > 0 else 60

    def _prune(self, now: float) -> None:
        full = [k for k, (t, at) in self._buckets.items()
                if t + (now - at) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
