"""Per-key request limits shared by every API process, on Redis (the ``limits`` library).

The in-memory limiter is a token bucket: ``burst`` at once, refilled at ``per_minute``. Here
the same budget is a moving window of ``burst`` hits per ``burst / per_minute`` minutes: the
same burst, the same long-run rate, and a refused client learns when the oldest hit in its
window leaves it. Keys: ``{prefix}limits:LIMITER/{name}/{key}/{burst}/{window}/second`` (a
list of hit times, expiring with the window).

A limiter that cannot reach Redis lets requests through (and logs it once): limits protect
the service from a noisy client, and refusing everyone while Redis is away would be worse.
"""

from __future__ import annotations

import logging
import math
import time

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


def window_seconds(per_minute: float, burst: int) -> int:
    """How long ``burst`` hits take to earn back at ``per_minute``."""
    if per_minute <= 0:
        return 3600
    return max(1, round(60.0 * max(1, burst) / per_minute))


class RedisRateLimiter:
    def __init__(self, url: str, per_minute: float, burst: int, *, name: str,
                 prefix: str = "triptych:") -> None:
        self.name = name
        self.window = window_seconds(per_minute, burst)
        self.item = RateLimitItemPerSecond(max(1, burst), self.window)
        self.storage = RedisStorage(url, key_prefix=f"{prefix}limits",
                                    socket_connect_timeout=2.0, socket_timeout=5.0)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._failing = False

    def hit(self, key: str, cost: float = 1.0) -> int | None:
        """Take ``cost`` hits; None if allowed, else whole seconds until one more hit would
        be (for ``cost`` > 1 it may take longer)."""
        try:
            if self.strategy.hit(self.item, self.name, key, cost=max(1, math.ceil(cost))):
                self._recovered()
                return None
            reset_at, _ = self.strategy.get_window_stats(self.item, self.name, key)
        except redis.RedisError as exc:
            if not self._failing:
                self._failing = True
                log.warning("rate limiter cannot reach Redis (%s); not limiting until it is "
                            "back", exc)
            return None
        self._recovered()
        return max(1, math.ceil(reset_at - time.time()))

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("rate limiter reaches Redis again")
