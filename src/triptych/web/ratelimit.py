"""Per-key request limits: a token bucket per client, kept in memory.

In memory is deliberate: limits protect one server process from one noisy client, and a
restart forgetting the buckets is harmless. (A multi-process deployment would put this in
Redis; the interface — ``hit(key) -> retry_after or None`` — stays the same.)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


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
