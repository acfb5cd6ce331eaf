"""Concurrent jobs for a built-in model through the embedded executor run in batches, and
each job is settled on its own: one hold, one capture, its own image."""

from __future__ import annotations

import pytest
from tests.conftest import BOTH_DBS, PG_URL

from triptych.catalog.loader import Catalog, load_catalog
from triptych.client import Triptych
from triptych.engines.batching import BatchingEngine
from triptych.engines.builtin import engine as builtin
from triptych.service.executor import InProcessExecutor, worker_threads


@pytest.fixture
def turbo(db, request, settings, clock, monkeypatch):
    """Triptych serving the shipped pico-turbo, on SQLite or PostgreSQL."""
    monkeypatch.delenv(builtin.WEIGHTS_ENV, raising=False)
    builtin.clear_cache()
    schema = None
    if db == "postgres":
        schema = request.getfixturevalue("pg_schema")
        settings.database_url = PG_URL
    settings.torch_threads = 1
    # a long window: the eight claims may trickle in on a busy machine; the group runs as
    # soon as it is full
    settings.batch_window_ms, settings.batch_max = 5000.0, 8
    tp = Triptych(settings, clock=clock, catalog=Catalog([load_catalog().get("pico-turbo")]),
                  db_schema=schema)
    yield tp
    tp.db.dispose()
    builtin.clear_cache()


def test_executor_threads_cover_a_batch(settings):
    assert worker_threads(settings) == max(settings.workers, settings.batch_max)
    settings.batching = False
    assert worker_threads(settings) == settings.workers


@BOTH_DBS
def test_eight_concurrent_jobs_batch_and_each_is_captured_once(turbo):
    jobs = [turbo.submit(f"a red circle {i}", "pico-turbo", seed=40 + i) for i in range(8)]
    before = turbo.credits(statement=False)["available"]
    engine = turbo.jobs.engines.get(turbo.jobs.card("pico-turbo"), turbo.settings)
    assert isinstance(engine, BatchingEngine)
    engine.wait_when_idle = True  # the first claim waits for the others too
    executor = InProcessExecutor(turbo.jobs, workers=8)
    executor.start()
    try:
        for job in jobs:
            executor.dispatch(job["id"])
        assert all(executor.wait(job["id"], timeout=120) for job in jobs)
    finally:
        executor.stop()
    assert sum(size * count for size, count in engine.sizes.items()) == 8
    assert max(engine.sizes) > 1  # some jobs shared a batch
    done = [turbo.job(job["id"]) for job in jobs]
    assert all(job["status"] == "succeeded" and job["charged"] == job["cost"] for job in done)
    assert [job["images"][0]["record"]["seed"] for job in done] == [40 + i for i in range(8)]
    credits = turbo.credits()
    assert credits["available"] == before and credits["held"] == 0
    kinds = [line["kind"] for line in credits["statement"]]
    assert kinds.count("hold") == 8 and kinds.count("capture") == 8
    assert turbo.verify_ledger() == []
