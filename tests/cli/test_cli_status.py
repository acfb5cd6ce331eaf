"""``triptych status`` on real SQLite and PostgreSQL: live workers from the registry, queue
depth and age per pool, jobs by state, the broker with its password masked."""

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from triptych.cli import app as app_module
from triptych.cli.main import cli
from triptych.service import worker_registry


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, monkeypatch, fake_factory):
    tp = request.getfixturevalue("tp" if request.param == "sqlite" else "pg_tp")
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    return tp


def status(*args: str):
    result = CliRunner().invoke(cli, ["status", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def populate(tp) -> None:
    clock = tp.ctx.clock
    tp.generate("a red circle", "fake-general")
    tp.cancel(tp.submit("a blue star", "fake-draft")["id"])
    tp.submit("waits longest", "fake-draft")
    clock.advance(seconds=75)
    tp.submit("waits less", "fake-premium")
    now = clock()
    worker_registry.register(tp.ctx.sessions, "hosted-1@api-box", "api-box", 4242,
                             ["triptych.hosted.fake-draft", "triptych.hosted.fake-premium"],
                             ["fake-draft", "fake-premium"], 32, now - timedelta(seconds=3))
    worker_registry.beat(tp.ctx.sessions, "hosted-1@api-box", now)
    worker_registry.register(tp.ctx.sessions, "builtin-1@gone", "gone", 7,
                             ["triptych.builtin.pico-dit"], ["pico-dit"], 2,
                             now - timedelta(minutes=5))  # stopped beating: not listed
    worker_registry.register(tp.ctx.sessions, "builtin-2@cpu", "cpu", 8,
                             ["triptych.builtin.pico-dit"], ["pico-dit"], 2, now)
    worker_registry.stopped(tp.ctx.sessions, "builtin-2@cpu", now)  # shut down cleanly


def test_status_json(deployment):
    tp = deployment
    tp.settings.broker_url = "amqp://triptych:hunter2@rabbit:5672//"
    populate(tp)
    report = json.loads(status("--json"))
    assert report["executor"] == "celery"
    assert report["broker"] == "amqp://triptych:***@rabbit:5672//"
    [worker] = report["workers"]
    assert worker["id"] == "hosted-1@api-box" and worker["hostname"] == "api-box"
    assert worker["pools"] == ["hosted"] and worker["concurrency"] == 32
    assert worker["models"] == ["fake-draft", "fake-premium"]
    assert worker["last_seen_seconds_ago"] == 0
    assert report["queues"]["hosted"] == {"depth": 2, "oldest_age_seconds": 75.0}
    assert report["queues"]["builtin"] == {"depth": 0, "oldest_age_seconds": 0.0}
    assert report["jobs"] == {"queued": 2, "running": 0, "succeeded": 1, "failed": 0,
                              "canceled": 1}
    assert "hunter2" not in json.dumps(report)


def test_status_for_people(deployment):
    populate(deployment)
    out = status()
    assert "embedded executor" in out
    assert "hosted-1@api-box" in out and "builtin-1@gone" not in out
    assert "builtin-2@cpu" not in out
    assert "75 s" in out  # the oldest queued job's age
    assert "queued 2" in out and "succeeded 1" in out and "canceled 1" in out
