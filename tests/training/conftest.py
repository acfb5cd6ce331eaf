"""Shared by the training tests: a tiny autoencoder, pico-diffusion and pico-turbo, trained
once per session (seconds), for the tests that need a teacher or a student to start from."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.training import quiet

from triptych.training.autoencoder import train_autoencoder
from triptych.training.pico_diffusion import train_pico_diffusion
from triptych.training.pico_turbo import train_pico_turbo


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    ae = root / "w" / "autoencoder.safetensors"
    train_autoencoder(tiny=True, seed=1, out=ae, run_dir=root / "ae", **quiet)
    pd = root / "w" / "pico-diffusion.safetensors"
    train_pico_diffusion(tiny=True, seed=1, out=pd, run_dir=root / "pd", ae_path=ae, **quiet)
    pt = root / "w" / "pico-turbo.safetensors"
    train_pico_turbo(tiny=True, seed=1, out=pt, run_dir=root / "pt", teacher_path=pd, **quiet)
    return {"root": root, "ae": ae, "pd": pd, "pt": pt}
