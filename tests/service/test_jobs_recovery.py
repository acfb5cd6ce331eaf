"""Leases, recovery and hand-over between processes, on SQLite and PostgreSQL.

Two ``Triptych`` instances on one database stand for two server processes (each has its own
job service, engines and executor); the multi-process tests with real processes live in
tests/service/test_distributed_faults.py."""

from __future__ import annotations

import threading
import time

import pytest
from tests.support.fake_engine import FAKE_CARDS, fake_card

from triptych.catalog.loader import Catalog
from triptych.client import Triptych
from triptych.service.clock import utc_now
from triptych.service.executor import InProcessExecutor
from triptych.settings import Settings

LOCAL = fake_card("fake-local", 2, "instant", builtin=True)


@pytest.fixture(params=["sqlite", "postgres"])
def make_tp(request, tmp_path, clock, fake_factory):
    """Builds Triptych instances on one database (SQLite file or a PostgreSQL schema)."""
    from tests.conftest import PG_URL

    schema = request.getfixturevalue("pg_schema") if request.param == "postgres" else None
    url = PG_URL if schema else None

    def make(*, clock_=clock, **overrides) -> Triptych:
        settings = Settings(home=tmp_path / "home", database_url=url, _env_file=None,
                            **overrides)
        return Triptych(settings, clock=clock_, catalog=Catalog([LOCAL, *FAKE_CARDS]),
                        db_schema=schema)
    return make


def test_a_lost_local_job_is_requeued_then_voided(make_tp, clock):
    tp = make_tp()
    job = tp.submit("a cat", "fake-local")
    assert tp.jobs.claim(job["id"])  # a worker took it, then its process died
    clock.advance(seconds=tp.settings.job_lease_seconds + 1)
    assert tp.jobs.recover()["requeued"] == [job["id"]]
    assert tp.jobs.claim(job["id"])  # the second attempt dies too
    clock.advance(seconds=tp.settings.job_lease_seconds + 1)
    assert tp.jobs.recover()["voided"] == [job["id"]]
    assert tp.job(job["id"])["status"] == "failed"
    assert tp.credits()["available"] == 50 and tp.verify_ledger() == []


def test_a_recovered_local_job_runs_once_and_is_charged_once(make_tp, clock, fake_factory):
    tp = make_tp()
    job = tp.submit("a cat", "fake-local")
    assert tp.jobs.claim(job["id"])
    clock.advance(seconds=tp.settings.job_lease_seconds + 1)
    tp.jobs.recover()
    assert tp.run(job["id"])["status"] == "succeeded"
    assert tp.run(job["id"])["status"] == "succeeded"
    assert len(fake_factory.engine("fake-local").calls) == 1
    assert tp.credits()["available"] == 48 and tp.verify_ledger() == []


def test_a_lost_hosted_job_is_refunded_not_sent_again(make_tp, clock, fake_factory):
    """The provider may still be generating the first attempt: never submit a second."""
    tp = make_tp()
    job = tp.submit("a cat", "fake-general")
    assert tp.jobs.claim(job["id"])
    clock.advance(seconds=tp.settings.job_lease_seconds + 1)
    assert tp.jobs.recover()["voided"] == [job["id"]]
    after = tp.job(job["id"])
    assert after["status"] == "failed" and after["error"]["code"] == "lost"
    assert "Nothing was charged" in after["error"]["message"]
    assert fake_factory.engine("fake-general").calls == []
    assert tp.credits()["available"] == 50 and tp.verify_ledger() == []


def test_a_late_result_of_a_superseded_attempt_is_not_settled(make_tp, clock, fake_factory):
    """Attempt 1 stalls past its lease, is re-queued and re-run; when attempt 1 returns at
    last, it must neither refund nor charge the job attempt 2 settled."""
    tp = make_tp()
    job = tp.submit("a cat", "fake-local")
    first = tp.jobs.claim(job["id"])
    clock.advance(seconds=tp.settings.job_lease_seconds + 1)
    tp.jobs.recover()
    assert tp.run(job["id"])["status"] == "succeeded"
    engine = fake_factory.engine("fake-local")
    from triptych.engines.base import GenerationRequest
    late = engine.generate(GenerationRequest(prompt="a cat", width=64, height=64, seed=1))
    card = tp.catalog.get("fake-local")
    assert tp.jobs._succeed(first, card, late, 1.0).status == "succeeded"
    assert tp.job(job["id"])["charged"] == 2 and len(tp.job(job["id"])["images"]) == 1
    assert tp.credits()["available"] == 48 and tp.verify_ledger() == []


def test_the_lease_is_renewed_while_a_slow_engine_runs(make_tp, fake_factory):
    """A provider call three times longer than the lease: another process sweeping all the
    while never takes the live job, the engine runs once, the job is charged once."""
    tp = make_tp(clock_=utc_now, job_lease_seconds=1)
    other = make_tp(clock_=utc_now, job_lease_seconds=1)
    job = tp.submit("a cat", "fake-general")
    engine = fake_factory.engine("fake-general")
    engine.before_return = lambda _request: time.sleep(3.2)
    sweeps: list[dict] = []
    done = threading.Event()

    def sweep() -> None:
        while not done.is_set():
            sweeps.append(other.jobs.recover())
            time.sleep(0.1)

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        result = tp.run(job["id"])
    finally:
        done.set()
        sweeper.join()
    assert result["status"] == "succeeded" and result["charged"] == 5
    assert len(engine.calls) == 1
    assert not any(s["requeued"] or s["voided"] for s in sweeps) and len(sweeps) > 10
    assert tp.verify_ledger() == []


def test_a_stopped_servers_queued_jobs_are_taken_by_a_live_one(make_tp, clock, fake_factory):
    """Server A accepted jobs and died before running them (they sat in its memory queue);
    server B's sweeper runs them once they have waited ``requeue_after_seconds``."""
    dead = make_tp(requeue_after_seconds=30)
    jobs = [dead.submit(f"a cat {i}", "fake-draft") for i in range(3)]
    live = make_tp(requeue_after_seconds=30)
    executor = InProcessExecutor(live.jobs, workers=1)
    executor.sweep()
    assert not executor._done  # too young: A may still be about to run them
    clock.advance(seconds=31)
    executor.sweep()
    assert set(executor._done) == {j["id"] for j in jobs}
    assert live.jobs.take_unpublished(30) == []  # taken: another sweeper leaves them
    executor.start()
    try:
        for j in jobs:
            assert executor.wait(j["id"], timeout=20)
    finally:
        executor.stop()
    assert all(live.job(j["id"])["status"] == "succeeded" for j in jobs)
    assert len(fake_factory.engine("fake-draft").calls) == 3
    assert live.verify_ledger() == []


def test_warm_up_loads_built_in_models_without_storing_or_charging(make_tp, fake_factory):
    tp = make_tp()
    before = tp.credits(statement=False)
    tp.jobs.warm_up(["fake-local", "fake-general"])  # the hosted one is left alone
    assert len(fake_factory.engine("fake-local").calls) == 1
    assert fake_factory.engine("fake-general").calls == []
    assert tp.history() == [] and tp.credits(statement=False) == before


def test_a_server_warms_every_built_in_model_and_is_ready_after(make_tp, fake_factory):
    """The embedded executor loads each built-in model (the default first) in the background
    at start; /readyz's models check fails until they are all loaded."""
    import threading

    from triptych.service.executor import make_executor
    from triptych.service.readiness import check_models

    tp = make_tp()
    release = threading.Event()
    fake_factory.engine("fake-local").before_return = lambda _request: release.wait(10)
    executor = make_executor(tp)
    executor.start()
    try:
        with pytest.raises(RuntimeError, match="warming up built-in models: 0 of 1 ready"):
            check_models(tp.jobs.warming)
        release.set()
        for _ in range(200):
            if tp.jobs.warming["ready"] == 1:
                break
            threading.Event().wait(0.01)
        assert check_models(tp.jobs.warming).startswith("ok (1 built-in")
        assert [r.prompt for r in fake_factory.engine("fake-local").calls] == ["warm up"]
        assert fake_factory.engine("fake-general").calls == []  # hosted: nothing to load
    finally:
        executor.stop()


def test_warm_up_can_be_switched_off(make_tp, fake_factory):
    tp = make_tp(warm_up=False)
    assert tp.jobs.to_warm(["fake-local"]) == []
    tp.jobs.warm_up(["fake-local"])
    assert fake_factory.engine("fake-local").calls == []
