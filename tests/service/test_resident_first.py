"""Resident first: queued jobs for loaded local models run before ones that need a swap,
in the embedded executor's queue and in a Celery worker's task; priority and a skip limit
still hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import BOTH_DBS
from tests.support.tiny_diffusers import build_tiny_sdxl, local_triptych, tiny_card

from triptych.client import Triptych
from triptych.engines import residency
from triptych.service.distributed import tasks
from triptych.service.resident_first import (
    ResidentFirstQueue,
    needs_swap_for,
    resident_backlog,
)

COLD = {"a", "c"}


def drain(q: ResidentFirstQueue) -> list[str | None]:
    return [q.get() for _ in range(q.qsize())]


def test_resident_models_go_first_within_a_priority():
    q = ResidentFirstQueue(lambda m: m in COLD, max_skips=4)
    for job, model in (("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")):
        q.put(1, job, model)
    assert drain(q) == ["2", "4", "1", "3"]


def test_priority_still_comes_first():
    q = ResidentFirstQueue(lambda m: m in COLD)
    q.put(1, "free-resident", "b")
    q.put(0, "pro-cold", "a")
    assert drain(q) == ["pro-cold", "free-resident"]


def test_a_cold_job_is_passed_over_at_most_max_skips_times():
    q = ResidentFirstQueue(lambda m: m in COLD, max_skips=2)
    q.put(1, "cold", "a")
    for i in range(4):
        q.put(1, f"hot{i}", "b")
    assert drain(q) == ["hot0", "hot1", "cold", "hot2", "hot3"]


def test_no_skips_means_strict_order_and_stop_markers_come_last():
    q = ResidentFirstQueue(lambda m: m in COLD, max_skips=0)
    q.put(99, None)
    q.put(1, "1", "a")
    q.put(1, "2", "b")
    assert drain(q) == ["1", "2", None]


# ---------------------------------------------------------------------- with real models


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    root = tmp_path_factory.mktemp("resident")
    return [tiny_card("hot", build_tiny_sdxl(root / "hot", seed=0)),
            tiny_card("cold", build_tiny_sdxl(root / "cold", seed=1))]


@pytest.fixture
def local_tp(db, request, settings, clock, fake_factory, cards) -> Iterator[Triptych]:
    with local_triptych(db, request, settings, clock, cards) as tp:
        yield tp
    tasks.use_jobs(None)


def test_only_local_models_that_are_not_loaded_need_a_swap(local_tp):
    needs_swap = needs_swap_for(local_tp.jobs)
    assert needs_swap("hot") and needs_swap("cold")
    local_tp.generate("warm", "hot")
    assert not needs_swap("hot") and needs_swap("cold")
    assert not needs_swap("fake-general")  # a model that never swaps
    assert not needs_swap("no-such-model") and not needs_swap(None)


@BOTH_DBS
def test_a_worker_runs_queued_jobs_of_loaded_models_before_a_swap(local_tp):
    local_tp.generate("warm", "hot")  # "hot" is resident
    cold = local_tp.submit("a cat", "cold")["id"]
    hot = [local_tp.submit(f"a dog {i}", "hot")["id"] for i in range(2)]
    local_tp.submit("a fake", "fake-general")  # not a local model: never run early
    assert resident_backlog(local_tp.jobs, ["hot", "cold"], limit=4) == hot
    assert resident_backlog(local_tp.jobs, ["hot", "cold"], limit=1) == hot[:1]

    order: list[str] = []
    real = local_tp.jobs.run_job

    def spy(job_id, progress=None):
        order.append(job_id)
        return real(job_id, progress)

    local_tp.jobs.run_job = spy  # type: ignore[method-assign]
    tasks.use_jobs(local_tp.jobs)
    tasks.use_served(["hot", "cold"])
    tasks.run_job(cold)
    assert order == [*hot, cold]
    assert all(local_tp.job(j)["status"] == "succeeded" for j in [*hot, cold])
    order.clear()
    tasks.run_job(hot[0])  # its own message, delivered later: already final, runs nothing
    assert order == [hot[0]]
    assert local_tp.verify_ledger() == []


def test_the_embedded_executor_prefers_the_loaded_model(local_tp):
    from triptych.service.executor import InProcessExecutor

    local_tp.generate("warm", "hot")
    executor = InProcessExecutor(local_tp.jobs, workers=1)
    ids = [local_tp.submit("a cat", "cold")["id"], local_tp.submit("a dog", "hot")["id"]]
    for job_id, model in zip(ids, ("cold", "hot"), strict=True):
        executor.dispatch(job_id, 1, model)
    assert executor._queue.get() == ids[1]
    assert executor._queue.get() == ids[0]


def test_preloaded_models_are_loaded_at_start(local_tp):
    from triptych.service.executor import InProcessExecutor

    local_tp.settings.residency_preload = "cold, not-in-catalog"
    executor = InProcessExecutor(local_tp.jobs, workers=1, warm=["fake-draft"])
    assert executor.warm == ["fake-draft", "cold"]
    assert local_tp.jobs.to_warm(["hot", "cold"]) == ["cold"]
    local_tp.jobs.warm_up(["hot", "cold"])
    assert residency.shared().is_resident("cold") and not residency.shared().is_resident("hot")
    assert local_tp.history() == []  # nothing stored or charged
