"""GPU smoke test of the diffusers engine on tiny pipelines: prints a report for
docs/local-models.md.

    .venv/bin/python scripts/gpu_smoke.py [--device cuda:0] [--json] [--no-compile]
                                          [--batch 8]

Builds two tiny StableDiffusionXLPipeline folders offline (random weights, a tokenizer
written locally; tests/support/tiny_diffusers.py) and runs them through the real engine on
the device:

* seeds: the same seed twice gives the same bytes;
* batching determinism: each of 8 requests alone vs the 8 as one ``generate_batch`` call, in
  float32 and the device's half dtype (pass: no pixel more than 2 levels of 255 apart);
* memory accounting: what the residency manager counts for a loaded model vs what the CUDA
  allocator gained when it loaded, and what an eviction gives back;
* model offload: the same image as without it, with less held on the GPU between jobs;
* compile on/off: first and steady-state image time with ``torch.compile`` off and on.

Without a CUDA device it says so, runs what it can on the CPU (seeds, batching in float32,
accounting without the allocator, no compile) and exits 0. Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tests.support.tiny_diffusers import build_tiny_sdxl, tiny_card  # noqa: E402

from triptych.engines.base import EngineResult, GenerationRequest  # noqa: E402
from triptych.engines.diffusers_engine import DiffusersEngine  # noqa: E402
from triptych.engines.residency import Residency  # noqa: E402
from triptych.settings import Settings  # noqa: E402

SIZE = 64
BATCH = 8


def pixels(result: EngineResult) -> np.ndarray:
    return np.asarray(result.images[0].image).astype(int)


def request(seed: int, steps: int = 4) -> GenerationRequest:
    return GenerationRequest(f"smoke test prompt {seed}", SIZE, SIZE, seed=seed, steps=steps)


def engine(folder: Path, device: str, dtype: str, manager: Residency, **local) -> DiffusersEngine:
    card = tiny_card(f"{folder.name}-{dtype}-{local.get('compile', False)}", folder,
                     device=device, dtype=dtype, **local)
    return DiffusersEngine(card, Settings(_env_file=None), manager)


def check_seeds(folder: Path, device: str, manager: Residency) -> dict:
    e = engine(folder, device, "float32", manager)
    same = np.array_equal(pixels(e.generate(request(3))), pixels(e.generate(request(3))))
    other = not np.array_equal(pixels(e.generate(request(3))), pixels(e.generate(request(4))))
    return {"same_seed_same_bytes": same, "other_seed_other_image": other,
            "pass": same and other}


def check_batching(folder: Path, device: str, dtype: str, manager: Residency,
                   batch: int = BATCH) -> dict:
    e = engine(folder, device, dtype, manager)
    requests = [request(seed) for seed in range(batch)]
    alone = [e.generate(r) for r in requests]
    batched = e.generate_batch(requests, [None] * batch)
    diffs = [int(np.abs(pixels(a) - pixels(b)).max())
             for a, b in zip(alone, batched, strict=True)]  # type: ignore[arg-type]
    return {"dtype": dtype, "batch": batch, "max_pixel_diff": max(diffs),
            "identical": sum(d == 0 for d in diffs), "pass": max(diffs) <= 2}


def check_memory(folder: Path, device: str) -> dict:
    manager = Residency()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
    e = engine(folder, device, "float32", manager)
    e.generate(request(1))
    counted = manager.report()["models"][0]["bytes"]
    out: dict = {"counted_bytes": counted}
    if cuda:
        torch.cuda.synchronize(device)
        loaded = torch.cuda.memory_allocated(device) - before
        manager.clear()
        torch.cuda.synchronize(device)
        left = torch.cuda.memory_allocated(device) - before
        out.update(allocator_bytes=loaded, left_after_eviction_bytes=left,
                   counted_over_allocator=round(counted / loaded, 3) if loaded else None,
                   pass_=left <= 0.05 * loaded and abs(counted - loaded) <= 0.1 * loaded)
    else:
        manager.clear()
        out["pass_"] = counted > 0
    out["pass"] = out.pop("pass_")
    return out


def check_offload(folder: Path, device: str) -> dict:
    """Model offload: same image as without it, less held on the device between jobs."""
    out = {}
    images = {}
    for offload in ("none", "model"):
        manager = Residency()
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        e = engine(folder, device, "float32", manager, offload=offload)
        images[offload] = pixels(e.generate(request(2)))
        torch.cuda.synchronize(device)
        out[f"{offload}_held_bytes"] = torch.cuda.memory_allocated(device) - before
        out[f"{offload}_counted_bytes"] = manager.report()["models"][0]["bytes"]
        manager.clear()
    diff = int(np.abs(images["none"] - images["model"]).max())
    out["max_pixel_diff"] = diff
    out["pass"] = diff <= 2 and out["model_held_bytes"] < out["none_held_bytes"]
    return out


def check_compile(folder: Path, device: str, runs: int = 5) -> dict:
    rows = {}
    for compiled in (False, True):
        manager = Residency()
        e = engine(folder, device, "float32", manager, compile=compiled)
        started = time.perf_counter()
        first = e.generate(request(1))
        first_ms = (time.perf_counter() - started) * 1000
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            e.generate(request(1))
            if device.startswith("cuda"):
                torch.cuda.synchronize(device)
            times.append((time.perf_counter() - started) * 1000)
        rows["on" if compiled else "off"] = {"first_ms": round(first_ms, 1),
                                             "steady_ms": round(statistics.median(times), 1),
                                             "image": pixels(first)}
        manager.clear()
    diff = int(np.abs(rows["on"].pop("image") - rows["off"].pop("image")).max())
    return {**rows, "max_pixel_diff_on_vs_off": diff, "pass": diff <= 2}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="default: cuda:0 when present, else cpu")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--batch", type=int, default=BATCH, help="requests per batch")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = args.device or ("cuda:0" if cuda else "cpu")
    report: dict = {"device": device, "torch": torch.__version__,
                    "python": platform.python_version()}
    if device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(device)
    else:
        report["note"] = ("no CUDA device: ran on the CPU (float32 only, no compile, no "
                          "allocator accounting)" if not cuda else "ran on the CPU as asked")
    import diffusers

    report["diffusers"] = diffusers.__version__
    checks: dict = {}
    manager = Residency()
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_sdxl(Path(tmp) / "smoke", seed=0)
        checks["seeds"] = check_seeds(folder, device, manager)
        dtypes = ["float32"] + (["float16", "bfloat16"] if device.startswith("cuda") else [])
        for dtype in dtypes:
            checks[f"batching_{dtype}"] = check_batching(folder, device, dtype, manager,
                                                         args.batch)
        manager.clear()
        checks["memory"] = check_memory(folder, device)
        if device.startswith("cuda"):
            checks["offload"] = check_offload(folder, device)
        if device.startswith("cuda") and not args.no_compile:
            checks["compile"] = check_compile(folder, device)
    report["checks"] = checks
    ok = all(c["pass"] for c in checks.values())
    report["pass"] = ok
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"diffusers engine smoke test on {report.get('gpu', device)} "
              f"(torch {report['torch']}, diffusers {report['diffusers']})")
        if "note" in report:
            print(f"note: {report['note']}")
        for name, check in checks.items():
            detail = ", ".join(f"{k}={v}" for k, v in check.items() if k != "pass")
            print(f"  {'PASS' if check['pass'] else 'FAIL'}  {name}: {detail}")
        print("all checks passed" if ok else "some checks FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
