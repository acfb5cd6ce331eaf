"""Tiny pipeline folders, built once per session from configs (tests/support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.tiny_diffusers import build_tiny_flux, build_tiny_pixart_sigma, build_tiny_sdxl

from triptych.engines.residency import Residency


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipelines")
    return {"alpha": build_tiny_sdxl(root / "alpha", seed=0),
            "beta": build_tiny_sdxl(root / "beta", seed=1),
            "flux": build_tiny_flux(root / "flux", seed=2),
            "pixart": build_tiny_pixart_sigma(root / "pixart", seed=3)}


@pytest.fixture
def residency() -> Iterator[Residency]:
    manager = Residency()
    yield manager
    manager.clear()
