"""A tiny pipeline folder as a catalog model, end to end through the job service on SQLite
and PostgreSQL: charged when it draws, refunded when the device runs out of memory, and
routed to the ``gpu`` worker pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from tests.conftest import BOTH_DBS
from tests.support.fake_engine import FAKE_CARDS
from tests.support.tiny_diffusers import build_tiny_sdxl, local_triptych

from triptych.catalog.loader import Catalog, parse_catalog
from triptych.client import Triptych
from triptych.engines import residency
from triptych.engines.diffusers_engine import loading
from triptych.errors import JobFailed
from triptych.service.pools import pool_of, queue_for

ENTRY = """
[[model]]
id = "tiny-local"
name = "Tiny Local"
provider = "Local (diffusers)"
family = "distilled-diffusion"
tier = "instant"
credits = 3
quality = "draft"
description = "A tiny random pipeline."
max_width = 64
max_height = 64
min_width = 32
min_height = 32
default_width = 32
default_height = 32
default_steps = 2
max_steps = 4
engine = "diffusers:{path}"

[model.local]
device = "cpu"
dtype = "float32"
guidance = 0.0
"""


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    folder = build_tiny_sdxl(tmp_path_factory.mktemp("local") / "tiny")
    return parse_catalog(ENTRY.format(path=folder)).get("tiny-local")


@pytest.fixture
def local_tp(db, request, settings, clock, fake_factory, card) -> Iterator[Triptych]:
    with local_triptych(db, request, settings, clock, [card]) as tp:
        yield tp


def test_local_models_go_to_the_gpu_pool(card):
    from triptych.service.distributed.worker import plan

    assert pool_of(card) == "gpu"
    assert queue_for(card) == "triptych.gpu.tiny-local"
    # `triptych worker --models gpu`: one process holds each model once
    the_plan = plan([*FAKE_CARDS, card], ["gpu"], None)
    assert [c.id for c in the_plan.models] == ["tiny-local"]
    assert (the_plan.queues, the_plan.pool, the_plan.concurrency) == (
        ["triptych.gpu.tiny-local"], "solo", 1)


@BOTH_DBS
def test_a_local_model_is_charged_on_success(local_tp):
    assert local_tp.availability(local_tp.catalog.get("tiny-local")) == (True, "")
    out = local_tp.generate("a red circle", "tiny-local", seed=4, n=2, size="64x64")
    assert out.cost == 6 and len(out.paths) == 2
    credits = local_tp.credits()
    assert credits["available"] == 44 and credits["held"] == 0
    job = local_tp.history()[0]
    assert job["status"] == "succeeded" and job["charged"] == 6
    assert residency.shared().is_resident("tiny-local")
    assert local_tp.verify_ledger() == []


@BOTH_DBS
def test_out_of_memory_refunds_the_hold(local_tp, monkeypatch):
    real_load = loading.load

    class OutOfMemoryPipe:
        def __init__(self, real) -> None:
            self.components = real.components

        def __call__(self, prompt, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    def load(folder, local, device):
        loaded = real_load(folder, local, device)
        loaded.pipe = OutOfMemoryPipe(loaded.pipe)
        return loaded

    monkeypatch.setattr(loading, "load", load)
    with pytest.raises(JobFailed) as caught:
        local_tp.generate("a red circle", "tiny-local", seed=4)
    assert "ran out of memory" in caught.value.message
    assert "Nothing was charged" in caught.value.message
    assert local_tp.credits()["available"] == 50 and local_tp.credits()["held"] == 0
    [job] = local_tp.history()
    assert job["status"] == "failed" and job["charged"] == 0
    assert job["error"]["code"] == "out_of_memory"
    assert local_tp.verify_ledger() == []


def test_a_missing_folder_is_unavailable_and_charges_nothing(local_tp, card, tmp_path):
    gone = card.model_copy(update={"id": "gone", "engine": f"diffusers:{tmp_path}/nope"})
    tp = Triptych(local_tp.settings, clock=local_tp.ctx.clock,
                  catalog=Catalog([*FAKE_CARDS, gone]))
    ok, reason = tp.availability(gone)
    assert not ok and "does not exist" in reason
    with pytest.raises(Exception, match="unavailable"):
        tp.generate("a cat", "gone")
    assert tp.credits()["available"] == 50
    tp.db.dispose()


@BOTH_DBS
def test_a_cancel_stops_a_running_local_job_between_steps(local_tp, monkeypatch):
    from triptych.service import jobs as jobs_module

    monkeypatch.setattr(jobs_module, "CANCEL_CHECK_AFTER", 0.0)
    monkeypatch.setattr(jobs_module, "CANCEL_CHECK_EVERY", 0.0)
    job_id = local_tp.submit("a red circle", "tiny-local", seed=4, steps=4)["id"]
    steps: list[float] = []

    def cancel_at_first_step(fraction, _preview):
        steps.append(fraction)
        if len(steps) == 1:
            local_tp.cancel(job_id)

    job = local_tp.run(job_id, cancel_at_first_step)
    assert job["status"] == "canceled" and job["charged"] == 0
    assert steps == [0.25]  # the pipeline stopped after the step that saw the cancel
    assert local_tp.credits()["available"] == 50 and local_tp.credits()["held"] == 0
    assert local_tp.verify_ledger() == []
