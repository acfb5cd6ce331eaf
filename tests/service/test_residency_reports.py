"""Where residency shows: a worker's heartbeat carries its loaded models into the database,
``triptych status`` lists them (and this process's), ``/metrics`` exposes both."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from triptych.cli import app as app_module
from triptych.cli.main import cli
from triptych.engines import residency
from triptych.service import worker_registry
from triptych.service.distributed.worker import Presence, WorkerPlan
from triptych.service.metrics import REGISTRY, Exposition

MiB = 1024**2


@pytest.fixture
def manager() -> Iterator[residency.Residency]:
    m = residency.Residency({"cuda:1": 8 * 1024 * MiB})
    with m.use("flux-klein", "cuda:1", lambda: object(), measure=lambda _: 512 * MiB):
        pass
    residency.use_shared(m)
    yield m
    residency.use_shared(None)


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, monkeypatch, fake_factory, manager):
    tp = request.getfixturevalue("tp" if request.param == "sqlite" else "pg_tp")
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    now = tp.ctx.clock()
    worker_registry.register(tp.ctx.sessions, "gpu-1@box", "box", 1, ["triptych.gpu.flux-klein"],
                             ["flux-klein"], 1, now)
    presence = Presence(tp, "gpu-1@box", WorkerPlan([], [], "solo", 1))
    assert worker_registry.beat(tp.ctx.sessions, "gpu-1@box", now, notes=presence.notes())
    return tp


def status(*args: str) -> str:
    result = CliRunner().invoke(cli, ["status", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_json_shows_each_workers_resident_models(deployment):
    report = json.loads(status("--json"))
    [worker] = report["workers"]
    [model] = worker["residency"]["models"]
    assert (model["model"], model["device"], model["bytes"]) == (
        "flux-klein", "cuda:1", 512 * MiB)
    assert worker["residency"]["devices"]["cuda:1"]["budget_bytes"] == 8 * 1024 * MiB
    assert report["residency"]["models"][0]["model"] == "flux-klein"  # this process too


def test_status_for_people_has_a_resident_models_table(deployment):
    out = status()
    assert "Resident models" in out
    assert "flux-klein" in out and "0.50 GiB" in out and "of 8.00 GiB" in out


def test_metrics_expose_this_process_and_each_worker(deployment):
    text = generate_latest(Exposition(REGISTRY, deployment.database_metrics())).decode()
    assert 'triptych_resident_model_bytes{device="cuda:1",model="flux-klein"} 5.36870912e+08' \
        in text
    assert 'triptych_residency_budget_bytes{device="cuda:1"} 8.589934592e+09' in text
    assert "triptych_model_loads_total 1.0" in text
    assert ('triptych_worker_resident_model_bytes{device="cuda:1",model="flux-klein",'
            'worker="gpu-1@box"} 5.36870912e+08') in text


def test_nothing_loaded_reports_nothing(tp):
    residency.use_shared(None)
    assert tp.deployment_status()["residency"] is None
    text = generate_latest(REGISTRY).decode()
    assert "triptych_model_loads_total 0.0" in text
    assert "triptych_resident_model_bytes{" not in text
