"""The Redis progress hub on a real Redis: hub instances stand for processes (each has its own
connections and listener thread), and one test uses a real second process."""

from __future__ import annotations

import io
import os
import queue
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image
from tests.support.shared_redis import eventually, subscribers

from triptych.service.progress import MemoryProgressHub, ProgressEvent, make_hub
from triptych.service.progress_redis import RedisProgressHub, decode, encode
from triptych.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0  # seconds to wait for an event that must come (never a measured time)


@pytest.fixture
def hubs(redis_url, prefix) -> Iterator[tuple[RedisProgressHub, RedisProgressHub]]:
    """Two hubs on one Redis, as a worker process and an API process would have."""
    worker = RedisProgressHub(redis_url, prefix=prefix, listen_timeout=0.2)
    api = RedisProgressHub(redis_url, prefix=prefix, listen_timeout=0.2)
    yield worker, api
    worker.close()
    api.close()


def job() -> str:
    return uuid.uuid4().hex


def png(width: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def take(q: queue.Queue[ProgressEvent]) -> ProgressEvent:
    return q.get(timeout=WAIT)


def subscribed(url: str, hub: RedisProgressHub, job_id: str) -> None:
    """Wait until ``hub``'s listener holds the job's channel at Redis."""
    eventually(lambda: subscribers(url, hub.channel(job_id)) == 1, what="SUBSCRIBE")


def test_message_round_trip_keeps_the_preview_bytes():
    ev = ProgressEvent("j", "failed", 0.25, png(9), {"error": "no\nway", "n": 2})
    seq, back = decode("j", b"17\n" + encode(ev))
    assert seq == 17 and back == ev
    assert decode("j", b"3\n" + encode(ProgressEvent("j", "running", 0.5)))[1].preview_png is None


def test_events_published_on_one_hub_reach_a_subscriber_on_another(hubs, redis_url):
    worker, api = hubs
    job_id = job()
    q = api.subscribe(job_id)
    subscribed(redis_url, api, job_id)
    for i in range(1, 6):
        worker.publish(ProgressEvent(job_id, "running", i / 5, png(i)))
    worker.publish(ProgressEvent(job_id, "failed", 1.0, extra={"error": "out of credit"}))
    got = [take(q) for _ in range(6)]
    assert [e.fraction for e in got] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]
    assert [e.preview_png for e in got[:5]] == [png(i) for i in range(1, 6)]
    assert got[-1].status == "failed" and got[-1].extra == {"error": "out of credit"}
    assert all(e.job_id == job_id for e in got)
    assert q.empty()


def test_a_late_subscriber_starts_from_the_latest_event(hubs):
    worker, api = hubs
    job_id = job()
    worker.publish_progress(job_id, 0.1, None)
    worker.publish_progress(job_id, 0.3, Image.new("RGB", (5, 5), "blue"))
    assert api.latest(job_id).fraction == 0.3
    q = api.subscribe(job_id)
    first = take(q)
    assert first.fraction == 0.3 and Image.open(io.BytesIO(first.preview_png)).size == (5, 5)
    worker.publish_progress(job_id, 0.6, None)
    assert take(q).fraction == 0.6  # the older 0.1 never comes, nor 0.3 twice
    # A second subscriber of the same job in the same process shares the subscription and
    # starts from the latest too.
    again = api.subscribe(job_id)
    assert take(again).fraction == 0.6
    assert q.empty()
    assert api.latest(job()) is None


def test_one_listener_thread_and_one_subscription_per_job(hubs, redis_url):
    worker, api = hubs
    jobs = [job() for _ in range(12)]
    queues = {j: [api.subscribe(j), api.subscribe(j)] for j in jobs}
    for j in jobs:
        subscribed(redis_url, api, j)  # two local subscribers, one Redis subscription
    listeners = [t for t in threading.enumerate() if t.name == "progress-redis-listener"]
    assert len(listeners) == 1  # the worker hub never subscribed, so it never started one
    for n, j in enumerate(jobs):
        worker.publish_progress(j, n / 20, None)
    for n, j in enumerate(jobs):
        assert [take(q).fraction for q in queues[j]] == [n / 20, n / 20]


def test_unsubscribe_stops_delivery(hubs, redis_url):
    worker, api = hubs
    job_id = job()
    gone = api.subscribe(job_id)
    subscribed(redis_url, api, job_id)
    worker.publish_progress(job_id, 0.2, None)
    assert take(gone).fraction == 0.2
    api.unsubscribe(job_id, gone)
    assert api.watched() == set()
    eventually(lambda: subscribers(redis_url, api.channel(job_id)) == 0, what="UNSUBSCRIBE")
    worker.publish_progress(job_id, 0.4, None)
    # A new subscriber of the job gets 0.4 (latest) and 0.6; the listener handles messages in
    # order, so once 0.6 is here anything for the old queue would have been put already.
    fresh = api.subscribe(job_id)
    assert take(fresh).fraction == 0.4
    subscribed(redis_url, api, job_id)
    worker.publish_progress(job_id, 0.6, None)
    assert take(fresh).fraction == 0.6
    assert gone.empty()


def test_final_event_ends_and_its_state_expires_sooner(redis_url, prefix):
    worker = RedisProgressHub(redis_url, prefix=prefix, final_ttl=30, idle_ttl=3000)
    api = RedisProgressHub(redis_url, prefix=prefix, listen_timeout=0.2)
    client = redis.Redis.from_url(redis_url)
    try:
        job_id = job()
        q = api.subscribe(job_id)
        subscribed(redis_url, api, job_id)
        worker.publish_progress(job_id, 0.5, None)
        assert take(q).status == "running"
        assert 30 < client.ttl(worker.key(job_id)) <= 3000
        worker.publish(ProgressEvent(job_id, "succeeded", 1.0))
        final = take(q)
        assert final.final and final.status == "succeeded"
        assert 0 < client.ttl(worker.key(job_id)) <= 30
        worker.forget(job_id)
        assert api.latest(job_id) is None and client.exists(worker.key(job_id)) == 0
    finally:
        client.close()
        worker.close()
        api.close()


def test_order_survives_the_latest_key_going_away(hubs, redis_url):
    """``seq`` follows Redis's clock, not a counter in the key: after the key expires (or
    Redis restarts), new events still rank above what a subscriber has seen."""
    worker, api = hubs
    job_id = job()
    q = api.subscribe(job_id)
    subscribed(redis_url, api, job_id)
    worker.publish_progress(job_id, 0.5, None)
    assert take(q).fraction == 0.5
    worker.forget(job_id)
    worker.publish_progress(job_id, 0.7, None)
    assert take(q).fraction == 0.7


def test_a_malformed_message_is_dropped_and_the_listener_goes_on(hubs, redis_url):
    worker, api = hubs
    job_id = job()
    q = api.subscribe(job_id)
    subscribed(redis_url, api, job_id)
    client = redis.Redis.from_url(redis_url)
    client.publish(api.channel(job_id), b"not a progress message")
    client.close()
    worker.publish_progress(job_id, 0.5, None)
    assert take(q).fraction == 0.5 and q.empty()


def test_listener_reconnects_and_catches_up(redis_url, prefix):
    worker = RedisProgressHub(redis_url, prefix=prefix)
    api = RedisProgressHub(redis_url, prefix=prefix, listen_timeout=0.2)
    admin = redis.Redis.from_url(redis_url)

    def listener_ids() -> list[int]:
        return [int(c["id"]) for c in admin.client_list() if c.get("name") == api.listener_name]

    def kill_listener() -> None:
        [old] = listener_ids()
        assert admin.client_kill_filter(_id=old) == 1
        eventually(lambda: listener_ids() not in ([], [old]), what="the listener reconnects")
        subscribed(redis_url, api, job_id)

    try:
        job_id = job()
        q = api.subscribe(job_id)
        subscribed(redis_url, api, job_id)
        worker.publish_progress(job_id, 0.25, None)
        assert take(q).fraction == 0.25
        kill_listener()  # back, re-subscribed, caught up with 0.25, which q already has
        worker.publish_progress(job_id, 0.5, None)
        assert take(q).fraction == 0.5
        [old] = listener_ids()
        admin.client_kill_filter(_id=old)
        worker.publish_progress(job_id, 0.75, None)  # while the listener is away
        assert take(q).fraction == 0.75  # by the channel, or by the catch-up
        subscribed(redis_url, api, job_id)
        worker.publish_progress(job_id, 1.0, None)
        assert take(q).fraction == 1.0
        assert q.empty()
    finally:
        admin.close()
        worker.close()
        api.close()


def test_progress_from_a_separate_process_arrives_in_order(hubs, redis_url, prefix):
    _, api = hubs
    job_id = job()
    q = api.subscribe(job_id)
    subscribed(redis_url, api, job_id)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.publish_progress", redis_url, prefix, job_id, "8"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    got = [take(q) for _ in range(9)]
    assert [e.fraction for e in got] == [i / 8 for i in range(1, 9)] + [1.0]
    assert [Image.open(io.BytesIO(e.preview_png)).size for e in got[:8]] == \
        [(8 + i, 8) for i in range(1, 9)]
    assert got[-1].status == "succeeded" and got[-1].extra == {"by": "child"}


def test_a_hub_without_redis_drops_progress_instead_of_failing_the_job():
    hub = RedisProgressHub(f"redis://127.0.0.1:{closed_port()}/0")
    hub.publish_progress("j", 0.5, None)  # logged, not raised: progress is transient
    hub.publish(ProgressEvent("j", "succeeded", 1.0))
    assert hub.latest("j") is None
    hub.close()


def test_make_hub_follows_the_settings(tmp_path, redis_url):
    assert isinstance(make_hub(Settings(home=tmp_path, _env_file=None)), MemoryProgressHub)
    hub = make_hub(Settings(home=tmp_path, redis_url=redis_url, _env_file=None))
    assert isinstance(hub, RedisProgressHub)
    hub.close()
    broker = Settings(home=tmp_path, broker_url=redis_url, _env_file=None)
    hub = make_hub(broker)
    assert isinstance(hub, RedisProgressHub)
    hub.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
