"""Submitting and following jobs over HTTP: 202 + quote, SSE, idempotency, cancel-refund,
error codes, per-model request limits and the jobs-in-flight cap."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import BOTH_DBS
from tests.support.sse import read_events
from tests.web.conftest import fast_config, make_key, start_server, wait_job
from triptych.engines.errors import ModerationError
from triptych.service.executor import InProcessExecutor
from triptych.service.progress import FINAL_JOB, ProgressEvent
from triptych.web.app import create_app

pytestmark = BOTH_DBS  # every test here moves credits or jobs


def test_submit_answers_202_with_quote_then_runs(client, alice):
    r = client.post("/v1/generations", headers=alice,
                    json={"prompt": "two cats", "model": "fake-general", "n": 2, "seed": 7})
    assert r.status_code == 202
    job = r.json()
    assert job["status"] in ("queued", "running", "succeeded")
    assert job["quoted_credits"] == job["cost"] == 10
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["events_url"] == f"/v1/jobs/{job['id']}/events"
    done = wait_job(client, alice, job["id"])
    assert done["status"] == "succeeded" and done["charged"] == 10
    assert len(done["images"]) == 2
    image = done["images"][0]
    assert "path" not in image and image["record"]["seed"] == 7
    png = client.get(image["url"], headers=alice)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert client.get("/v1/credits", headers=alice).json()["available"] == 40


def test_default_model_is_the_instant_one(client, alice):
    job = client.post("/v1/generations", json={"prompt": "a star"}, headers=alice).json()
    assert job["model"] == "fake-draft" and job["cost"] == 1


def test_error_codes(client, tp, alice, fake_factory):
    blocked = client.post("/v1/generations", json={"prompt": "a gory scene"}, headers=alice)
    assert blocked.status_code == 400
    assert blocked.json()["error"]["code"] == "moderation_blocked"
    assert blocked.json()["error"]["side"] == "input"

    tp.grant("alice@example.com", 1, reason="test")  # 51 available
    broke = client.post("/v1/generations", headers=alice,
                        json={"prompt": "x", "model": "fake-premium", "n": 4})
    assert broke.status_code == 402
    err = broke.json()["error"]
    assert err["code"] == "insufficient_credits"
    assert (err["needed"], err["available"], err["renews_on"]) == (60, 51, "2026-04-01")
    assert "renew on 1 April" in err["message"] and "triptych credits" not in err["message"]

    cases = [({"prompt": "x", "size": "4096x4096"}, "size"),
             ({"prompt": "x", "size": "big"}, "size"),
             ({"prompt": "x", "n": 5, "model": "fake-draft"}, "n"),  # the model's max_n is 4
             ({"prompt": "x", "n": 11}, "n"),
             ({"prompt": "x", "steps": 51, "model": "fake-draft"}, "steps"),
             ({"prompt": "x" * 2001}, "prompt"),
             ({"prompt": ""}, "prompt"),
             ({"prompt": "x", "model": "no-such-model"}, "model"),
             ({"prompt": "x", "seed": -1}, "seed"),
             ({"prompt": "x", "content_mode": "unrestricted"}, "content_mode"),
             ({"prompt": "x", "cost": 0}, "cost")]
    for body, field in cases:
        r = client.post("/v1/generations", json=body, headers=alice)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] == {**r.json()["error"], "code": "invalid_request",
                                     "field": field}, body
    assert client.get("/v1/jobs/nope", headers=alice).json()["error"]["code"] == "not_found"

    # An engine-side (output) block fails the job, refunds it, and says so.
    fake_factory.engine("fake-general").fail_with = ModerationError("no", side="output")
    job = client.post("/v1/generations", json={"prompt": "fine", "model": "fake-general"},
                      headers=alice).json()
    failed = wait_job(client, alice, job["id"])
    assert failed["status"] == "failed" and failed["charged"] == 0
    assert failed["error"]["code"] == "moderation_blocked" and failed["error"]["side"] == "output"
    assert client.get("/v1/credits", headers=alice).json()["available"] == 51


@pytest.fixture
def parked(tp, web_config):
    """An app whose executor is never started: jobs stay queued until the test says."""
    executor = InProcessExecutor(tp.jobs, workers=1)
    app = create_app(tp, web_config, executor=executor)
    with TestClient(app) as c:
        yield c, executor


def test_idempotency_key(parked, tp):
    client, _ = parked
    headers = {**make_key(tp, "alice@example.com"), "Idempotency-Key": "order-42"}
    first = client.post("/v1/generations", json={"prompt": "a cat"}, headers=headers)
    again = client.post("/v1/generations", json={"prompt": "a cat"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]  # no seed given: derived from the key
    assert client.get("/v1/credits", headers=headers).json()["held"] == 1  # held once
    other = client.post("/v1/generations", json={"prompt": "a dog"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert other.json()["error"]["field"] == "Idempotency-Key"
    # An empty key is no key: two jobs, not a 500 on the unique index.
    empty = {**headers, "Idempotency-Key": ""}
    twice = [client.post("/v1/generations", json={"prompt": "a cat"}, headers=empty)
             for _ in range(2)]
    assert [r.status_code for r in twice] == [202, 202]
    assert twice[0].json()["id"] != twice[1].json()["id"]
    # Another account may use the same key string.
    bob = {**make_key(tp, "bob@example.com"), "Idempotency-Key": "order-42"}
    assert client.post("/v1/generations", json={"prompt": "a cat"},
                       headers=bob).json()["id"] != first.json()["id"]


def test_idempotent_replay_of_a_running_job_returns_it(client, tp, alice, fake_factory):
    release, started = threading.Event(), threading.Event()

    def hold(_request):
        started.set()
        release.wait(10)

    fake_factory.engine("fake-general").before_return = hold
    headers = {**alice, "Idempotency-Key": "k1"}
    body = {"prompt": "slow", "model": "fake-general", "seed": 3}
    first = client.post("/v1/generations", json=body, headers=headers).json()
    assert started.wait(10)
    replay = client.post("/v1/generations", json=body, headers=headers)
    assert replay.status_code == 202
    assert replay.json()["id"] == first["id"] and replay.json()["status"] == "running"
    release.set()
    assert wait_job(client, alice, first["id"])["status"] == "succeeded"
    done = client.post("/v1/generations", json=body, headers=headers).json()
    assert done["id"] == first["id"] and done["status"] == "succeeded"
    assert client.get("/v1/credits", headers=alice).json()["available"] == 45  # charged once


def test_cancel_refunds_the_hold(parked, tp):
    client, executor = parked
    alice = make_key(tp, "alice@example.com")
    job = client.post("/v1/generations", json={"prompt": "x", "model": "fake-premium"},
                      headers=alice).json()
    credits = client.get("/v1/credits", headers=alice).json()
    assert (credits["available"], credits["held"]) == (35, 15)
    r = client.post(f"/v1/jobs/{job['id']}/cancel", headers=alice)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert r.json()["charged"] == 0
    credits = client.get("/v1/credits", headers=alice).json()
    assert (credits["available"], credits["held"]) == (50, 0)
    assert [line["kind"] for line in credits["statement"][:2]] == ["void", "hold"]
    executor.start()  # the worker finds the job cancelled and leaves it
    executor.stop()
    assert client.get(f"/v1/jobs/{job['id']}", headers=alice).json()["status"] == "canceled"
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=alice).json()["status"] == \
        "canceled"


def test_jobs_in_flight_cap(parked, tp):
    client, _ = parked
    tp.settings.max_jobs_in_flight = 2
    alice = make_key(tp, "alice@example.com")
    for _ in range(2):
        assert client.post("/v1/generations", json={"prompt": "x"}, headers=alice).status_code \
            == 202
    r = client.post("/v1/generations", json={"prompt": "x"}, headers=alice)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited" and r.headers["retry-after"] == "5"


def test_rerender_on_another_model(client, alice):
    job = client.post("/v1/generations", json={"prompt": "a kite", "seed": 11},
                      headers=alice).json()
    wait_job(client, alice, job["id"])
    r = client.post(f"/v1/jobs/{job['id']}/rerender", json={"model": "fake-premium"},
                    headers=alice)
    assert r.status_code == 202
    final = wait_job(client, alice, r.json()["id"])
    assert (final["model"], final["seed"], final["parent_job_id"]) == ("fake-premium", 11,
                                                                      job["id"])
    assert final["prompt"] == "a kite" and final["status"] == "succeeded"


@contextmanager
def held_job(tp, fake_factory) -> Iterator[tuple[httpx.Client, dict, threading.Event]]:
    """A live server and a job of alice's that runs until the event is set (or 10 s)."""
    release = threading.Event()
    fake_factory.engine("fake-general").before_return = lambda _r: release.wait(10)
    server = start_server(create_app(tp, fast_config()))
    try:
        headers = make_key(tp, "alice@example.com")
        with httpx.Client(base_url=server.url, headers=headers, timeout=20) as http:
            job = http.post("/v1/generations",
                            json={"prompt": "x", "model": "fake-general"}).json()
            yield http, job, release
    finally:
        release.set()
        server.stop()


def test_sse_stream_reports_progress_and_done(tp, fake_factory):
    with held_job(tp, fake_factory) as (http, job, release):
        def on_event(name: str, _data: dict) -> None:
            if name == "progress":  # seen: let the engine finish
                release.set()

        with http.stream("GET", job["events_url"]) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = read_events(stream, on_event)
        assert events[0][0] == "job"
        progress = [data for name, data in events if name == "progress"]
        assert any(p["fraction"] == 0.5 and p["preview"].startswith("data:image/png;base64,")
                   for p in progress)
        assert events[-1][0] == "done" and events[-1][1]["status"] == "succeeded"
        assert events[-1][1] == http.get(f"/v1/jobs/{job['id']}").json()
        # A finished job's stream ends at once with the same final record.
        replay = http.get(job["events_url"]).text
        assert "event: done" in replay
        assert replay.rstrip().endswith(json.dumps(events[-1][1], separators=(",", ":")))
        other = make_key(tp, "bob@example.com")
        assert http.get(job["events_url"], headers=other).status_code == 404


def test_a_final_event_carrying_the_job_ends_the_stream(tp, fake_factory):
    """The stream ends on the job a final event carries, without reading the row again: the
    row here is not final yet, so only the event can have ended it."""
    with held_job(tp, fake_factory) as (http, job, _release):
        finished = {**job, "status": "succeeded", "charged": job["cost"], "images": []}
        for key in ("quoted_credits", "events_url"):
            finished.pop(key)
        with http.stream("GET", job["events_url"]) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            tp.ctx.hub.publish(ProgressEvent(job["id"], "succeeded", 1.0,
                                             extra={FINAL_JOB: finished}))
            rest = list(lines)
        assert rest[-3:-1] == ["event: done",
                               "data: " + json.dumps(finished, separators=(",", ":"))]
        assert http.get(f"/v1/jobs/{job['id']}").json()["status"] in ("queued", "running")
