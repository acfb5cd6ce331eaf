"""The real Redis the shared-state tests run against, and a key prefix per test so tests (and
other checkouts using the same server) never see each other's keys or channels."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis

REDIS_URL = os.environ.get("TRIPTYCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable_url() -> str:
    """The test Redis URL; skips when the server is down, unless ``CI`` is set (then fails)."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@contextmanager
def isolated_prefix(url: str) -> Iterator[str]:
    """A fresh ``t<hex>:`` prefix; its keys are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait until ``check()`` holds; fails (does not measure) if it never does."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what or check}")
        time.sleep(0.01)


def subscribers(url: str, channel: bytes | str) -> int:
    """How many connections Redis has subscribed to ``channel`` (PUBSUB NUMSUB)."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.pubsub_numsub(channel)[0][1])
    finally:
        client.close()
