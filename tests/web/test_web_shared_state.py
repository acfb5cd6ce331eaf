"""State shared across API processes and workers, end to end over HTTP: a job's progress
published by another process's hub reaches the app's event stream; idle event streams hold no
thread; two apps share one rate-limit budget on Redis; the settings pick the shared backends."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading

import httpx
from fastapi.testclient import TestClient

from tests.support.sse import read_events
from tests.web.conftest import fast_config, make_key, start_server
from triptych.client import Triptych
from triptych.service.executor import InProcessExecutor
from triptych.service.jobs import JobService
from triptych.service.progress_redis import RedisProgressHub
from triptych.settings import Settings
from triptych.web.app import create_app
from triptych.web.ratelimit_redis import RedisRateLimiter
from triptych.web.sse import WakingQueue


def test_sse_gets_progress_published_by_a_worker_elsewhere(tp, fake_factory, redis_url, prefix):
    """The API process never runs the job (its executor is not started); a worker with its
    own hub instance does, and its events reach the stream through Redis alone."""
    api_hub = RedisProgressHub(redis_url, prefix=prefix, listen_timeout=0.2)
    worker_hub = RedisProgressHub(redis_url, prefix=prefix)
    tp.ctx.hub = api_hub
    worker = JobService(dataclasses.replace(tp.ctx, hub=worker_hub))
    release = threading.Event()
    fake_factory.engine("fake-general").before_return = lambda _r: release.wait(20)
    server = start_server(create_app(tp, fast_config(), executor=InProcessExecutor(tp.jobs)))
    running: list[threading.Thread] = []
    try:
        headers = make_key(tp, "alice@example.com")
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            job = http.post("/v1/generations",
                            json={"prompt": "x", "model": "fake-general"}).json()
            assert job["status"] == "queued"

            def seen(name: str, data: dict) -> None:
                if name == "job" and not running:  # the stream is open: start the worker
                    running.append(threading.Thread(target=worker.run_job, args=(job["id"],)))
                    running[0].start()
                if name == "progress" and data["status"] == "running":
                    release.set()

            with http.stream("GET", job["events_url"]) as stream:
                events = read_events(stream, seen)
        names = [name for name, _ in events]
        assert names[0] == "job" and names[-1] == "done"
        progress = [data for name, data in events if name == "progress"]
        assert progress[0]["fraction"] == 0.5
        assert progress[0]["preview"].startswith("data:image/png;base64,")
        assert progress[-1]["status"] == "succeeded"
        assert events[-1][1]["status"] == "succeeded" and events[-1][1]["images"]
    finally:
        release.set()
        for thread in running:
            thread.join(timeout=30)
        server.stop()
        api_hub.close()
        worker_hub.close()


def threads_parked_on_stream_queues() -> int:
    """Threads whose stack is inside a ``get`` on an event stream's queue."""
    parked = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == "get" and isinstance(frame.f_locals.get("self"),
                                                            WakingQueue):
                parked += 1
                break
            frame = frame.f_back
    return parked


def test_idle_streams_hold_no_thread(tp):
    """More open event streams than the server has threads for blocking work (anyio's 40),
    all waiting on a job that never runs, and an ordinary request still gets its thread."""
    server = start_server(create_app(tp, fast_config(), executor=InProcessExecutor(tp.jobs)))
    headers = make_key(tp, "alice@example.com")
    streams = 48

    async def scenario() -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30,
                                     limits=httpx.Limits(max_connections=streams + 4)) as http:
            job = (await http.post("/v1/generations", json={"prompt": "x"})).json()
            opened = asyncio.Event()
            waiting = 0

            async def follow() -> None:
                nonlocal waiting
                async with http.stream("GET", job["events_url"]) as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("event: job"):
                            waiting += 1
                            if waiting == streams:
                                opened.set()

            followers = [asyncio.create_task(follow()) for _ in range(streams)]
            await asyncio.wait_for(opened.wait(), 60)
            # All streams now wait for the job: none parks a thread on its queue, and this
            # request still gets a worker thread.
            parked = await asyncio.to_thread(threads_parked_on_stream_queues)
            credits = await asyncio.wait_for(http.get("/v1/credits"), 20)
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
            return parked, credits.status_code

    try:
        assert asyncio.run(scenario()) == (0, 200)
    finally:
        server.stop()


def test_two_apps_share_one_rate_limit_budget(tp, redis_url, prefix):
    apps = [create_app(tp, fast_config()) for _ in range(2)]
    for app in apps:  # as each API process builds its own, on the same Redis
        app.state.web.limiter = RedisRateLimiter(redis_url, 60, 3, name="api", prefix=prefix)
    headers = make_key(tp, "alice@example.com")
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        codes = [c.get("/v1/credits", headers=headers).status_code for c in (one, two, one)]
        assert codes == [200, 200, 200]
        refused = two.get("/v1/credits", headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 3
        assert one.get("/v1/credits", headers=headers).status_code == 429


def test_settings_with_redis_pick_the_shared_hub_and_limiters(tmp_path, fake_catalog,
                                                              redis_url):
    settings = Settings(home=tmp_path / "shared", redis_url=redis_url, _env_file=None)
    tp = Triptych(settings, catalog=fake_catalog)
    state = create_app(tp, fast_config(rate_per_minute=120, rate_burst=60)).state.web
    assert isinstance(tp.ctx.hub, RedisProgressHub)
    assert isinstance(state.limiter, RedisRateLimiter)
    assert isinstance(state.auth_limiter, RedisRateLimiter)
    assert (state.limiter.name, state.auth_limiter.name) == ("api", "auth")
    assert (state.limiter.item.amount, state.limiter.window) == (60, 30)
    tp.ctx.hub.close()
