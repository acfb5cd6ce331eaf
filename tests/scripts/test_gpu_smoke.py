"""scripts/gpu_smoke.py without a GPU: it says so, runs the CPU checks and exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the CPU path")
def test_gpu_smoke_on_a_machine_without_cuda():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_smoke.py"), "--json",
                           "--batch", "3"],
                          capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["device"] == "cpu" and "no CUDA device" in report["note"]
    assert report["pass"] and set(report["checks"]) == {"seeds", "batching_float32", "memory"}
    assert report["checks"]["batching_float32"]["max_pixel_diff"] <= 2
