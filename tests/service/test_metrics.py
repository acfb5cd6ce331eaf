"""Metrics: the job service records each final state once; the database collector reads what
is true across processes (on SQLite and PostgreSQL); a worker's endpoint adds up what its
forked pool processes observed."""

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.support.ports import free_port, refused_port

import triptych
from triptych.db.engine import make_engine, session_factory
from triptych.engines.errors import ProviderOutOfCreditError
from triptych.service import worker_registry
from triptych.service.metrics import DatabaseCollector, Exposition


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(collector) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value} from the text exposition, as Prometheus reads it."""
    text = generate_latest(Exposition(collector)).decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_a_job_is_observed_once_with_its_submit_to_final_time(tp, clock):
    before = (sample("triptych_job_duration_seconds_count", model="fake-general",
                     status="succeeded"),
              sample("triptych_job_duration_seconds_sum", model="fake-general",
                     status="succeeded"),
              sample("triptych_job_engine_seconds_count", model="fake-general",
                     status="succeeded"))
    job = tp.submit("a red circle", "fake-general")
    clock.advance(seconds=42)  # waited in the queue
    tp.run(job["id"])
    tp.run(job["id"])  # a second run of a finished job is a no-op, and not observed again
    after = (sample("triptych_job_duration_seconds_count", model="fake-general",
                    status="succeeded"),
             sample("triptych_job_duration_seconds_sum", model="fake-general",
                    status="succeeded"),
             sample("triptych_job_engine_seconds_count", model="fake-general",
                    status="succeeded"))
    assert after[0] - before[0] == 1
    assert after[1] - before[1] == pytest.approx(42.0)
    assert after[2] - before[2] == 1


def test_failed_and_cancelled_jobs_are_observed_with_their_status(tp, fake_factory):
    labels_failed = dict(model="fake-draft", status="failed")
    labels_canceled = dict(model="fake-draft", status="canceled")
    failed_before = sample("triptych_job_duration_seconds_count", **labels_failed)
    engine_failed_before = sample("triptych_job_engine_seconds_count", **labels_failed)
    canceled_before = sample("triptych_job_duration_seconds_count", **labels_canceled)
    engine_canceled_before = sample("triptych_job_engine_seconds_count", **labels_canceled)

    fake_factory.engine("fake-draft").fail_with = ProviderOutOfCreditError("empty")
    tp.run(tp.submit("a cat", "fake-draft")["id"])
    tp.cancel(tp.submit("a dog", "fake-draft")["id"])  # cancelled while queued: no engine

    assert sample("triptych_job_duration_seconds_count", **labels_failed) - failed_before == 1
    assert sample("triptych_job_engine_seconds_count", **labels_failed) - \
        engine_failed_before == 1
    assert sample("triptych_job_duration_seconds_count", **labels_canceled) - \
        canceled_before == 1
    assert sample("triptych_job_engine_seconds_count", **labels_canceled) == \
        engine_canceled_before


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_database_collector_reports_what_the_tables_say(request, backend, fake_factory):
    tp = request.getfixturevalue("tp" if backend == "sqlite" else "pg_tp")
    clock = tp.ctx.clock
    tp.grant(tp.user_email, 100, reason="room for the test")
    tp.generate("a red circle", "fake-general")  # succeeded: 5 captured
    fake_factory.engine("fake-draft").fail_with = ProviderOutOfCreditError("empty")
    tp.run(tp.submit("a cat", "fake-draft")["id"])  # failed: 1 refunded
    fake_factory.engine("fake-draft").fail_with = None
    tp.cancel(tp.submit("a dog", "fake-general")["id"])  # canceled: 5 refunded
    tp.submit("queued first", "fake-premium")
    clock.advance(seconds=90)
    tp.submit("queued second", "fake-general")
    clock.advance(seconds=10)
    now = clock()
    sessions = tp.ctx.sessions
    worker_registry.register(sessions, "h1@a", "a", 1, ["triptych.hosted.fake-general"],
                             ["fake-general"], 32, now)
    worker_registry.register(sessions, "h2@b", "b", 2, ["triptych.hosted.fake-draft"],
                             ["fake-draft"], 8, now)
    worker_registry.register(sessions, "b1@c", "c", 3, ["triptych.builtin.pico-dit"],
                             ["pico-dit"], 2, now - timedelta(minutes=10))  # silent: gone

    got = scrape(DatabaseCollector(sessions, tp.catalog, clock))

    assert got["triptych_database_up"] == {(): 1.0}
    jobs = got["triptych_jobs"]
    assert jobs[(("model", "fake-general"), ("state", "succeeded"))] == 1
    assert jobs[(("model", "fake-general"), ("state", "canceled"))] == 1
    assert jobs[(("model", "fake-general"), ("state", "queued"))] == 1
    assert jobs[(("model", "fake-premium"), ("state", "queued"))] == 1
    assert jobs[(("model", "fake-draft"), ("state", "failed"))] == 1
    assert sum(jobs.values()) == 5
    # the fake models are bound to the ``test`` scheme: not built-in, not local GPU -> hosted
    assert got["triptych_queue_depth"] == {(("pool", "builtin"),): 0, (("pool", "gpu"),): 0,
                                           (("pool", "hosted"),): 2}
    assert got["triptych_queue_oldest_age_seconds"][(("pool", "hosted"),)] == 100
    assert got["triptych_queue_oldest_age_seconds"][(("pool", "builtin"),)] == 0
    assert got["triptych_credits_captured_total"] == {(): 5}
    assert got["triptych_credits_refunded_total"] == {(): 6}
    assert got["triptych_job_failures_total"] == {
        (("code", "provider_out_of_credit"), ("provider", "test")): 1}
    assert got["triptych_workers_live"] == {(("pool", "builtin"),): 0, (("pool", "gpu"),): 0,
                                            (("pool", "hosted"),): 2}
    assert got["triptych_worker_slots"][(("pool", "hosted"),)] == 40


def test_an_unreachable_database_is_reported_not_raised(tp):
    with refused_port() as port:
        engine = make_engine(f"postgresql://nobody:pw@127.0.0.1:{port}/none")
        got = scrape(DatabaseCollector(session_factory(engine), tp.catalog, tp.ctx.clock))
    assert got == {"triptych_database_up": {(): 0.0}}


WORKER_SCRIPT = textwrap.dedent("""
    import multiprocessing, sys
    from triptych.service import metrics

    def run_jobs():  # a prefork pool process finishing jobs
        metrics.observe_job("pico-dit", "succeeded", 2.0, 1.5)
        metrics.observe_job("pico-dit", "succeeded", 4.0, 3.0)

    children = [multiprocessing.get_context("fork").Process(target=run_jobs)
                for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    metrics.serve_metrics(int(sys.argv[1]), addr="127.0.0.1")
    print("serving", flush=True)
    sys.stdin.read()  # until the test closes our stdin
""")


def test_worker_endpoint_adds_up_its_forked_processes(tmp_path):
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
           "PYTHONPATH": os.pathsep.join(
               p for p in (str(Path(triptych.__file__).parents[1]), os.environ.get("PYTHONPATH"))
               if p)}
    (tmp_path / "prom").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(port)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "serving"
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(text) for s in family.samples}
    key = (("model", "pico-dit"), ("status", "succeeded"))
    assert values[("triptych_job_duration_seconds_count", key)] == 4
    assert values[("triptych_job_duration_seconds_sum", key)] == 12.0
    assert values[("triptych_job_engine_seconds_sum", key)] == 9.0
