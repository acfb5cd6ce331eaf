"""The Redis-backed rate limiter on a real Redis: limiter instances stand for API processes."""

from __future__ import annotations

import socket
import time

from triptych.web.ratelimit import RateLimiter, make_limiter
from triptych.web.ratelimit_redis import RedisRateLimiter, window_seconds


def test_window_keeps_the_burst_and_the_rate():
    assert window_seconds(120, 60) == 30  # the defaults: 60 at once, then 2 a second
    assert window_seconds(60, 3) == 3
    assert window_seconds(20, 10) == 30
    assert window_seconds(0, 5) == 3600


def test_two_limiters_share_one_budget(redis_url, prefix):
    first = RedisRateLimiter(redis_url, 60, 3, name="api", prefix=prefix)
    second = RedisRateLimiter(redis_url, 60, 3, name="api", prefix=prefix)
    assert [first.hit("key:1") for _ in range(3)] == [None, None, None]
    retry_after = second.hit("key:1")
    assert retry_after is not None and 1 <= retry_after <= 3
    assert first.hit("key:1") is not None
    assert second.hit("key:2") is None  # per key
    other = RedisRateLimiter(redis_url, 60, 3, name="auth", prefix=prefix)
    assert other.hit("key:1") is None  # per limiter name


def test_retry_after_is_when_a_hit_is_allowed_again(redis_url, prefix):
    """Waiting the advertised time is enough (the wait is what the limiter says, so the test
    does not depend on how fast the machine is)."""
    a = RedisRateLimiter(redis_url, 30, 1, name="api", prefix=prefix)  # one per 2 s
    b = RedisRateLimiter(redis_url, 30, 1, name="api", prefix=prefix)
    assert a.hit("k") is None
    retry_after = b.hit("k")
    assert retry_after is not None and 1 <= retry_after <= 2
    time.sleep(retry_after)
    assert b.hit("k") is None
    assert a.hit("k") is not None


def test_a_cost_takes_that_many(redis_url, prefix):
    limiter = RedisRateLimiter(redis_url, 60, 5, name="api", prefix=prefix)
    assert limiter.hit("k", cost=4) is None
    assert limiter.hit("k", cost=2) is not None
    assert limiter.hit("k", cost=1) is None


def test_without_redis_requests_pass():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", 60, 1, name="api")
    assert [limiter.hit("k") for _ in range(3)] == [None, None, None]


def test_make_limiter_picks_the_store(redis_url):
    assert isinstance(make_limiter(None, 60, 3, name="api"), RateLimiter)
    shared = make_limiter(redis_url, 60, 3, name="auth")
    assert isinstance(shared, RedisRateLimiter) and shared.name == "auth"
