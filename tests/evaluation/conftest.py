"""Shared by the eval tests: the test engines registered under the "test" scheme and in the
catalog (autouse), and a tiny random judge checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.eval_engines import Factory, eval_card

from triptych.engines import registry
from triptych.judge.checkpoint import save_judge
from triptych.judge.model import CONFIGS, Judge


@pytest.fixture(autouse=True)
def test_engines(monkeypatch: pytest.MonkeyPatch):
    import triptych.catalog as catalog_pkg

    registry.register("test", Factory())
    catalog = catalog_pkg.load_catalog()
    catalog = catalog.with_card(eval_card("perfect")).with_card(eval_card("blank"))
    monkeypatch.setattr(catalog_pkg, "load_catalog", lambda *a, **k: catalog)
    yield
    registry.unregister("test")


@pytest.fixture
def tiny_judge(tmp_path: Path) -> Path:
    return save_judge(Judge(CONFIGS["tiny"]).eval(), tmp_path / "tiny_judge.safetensors")
