"""The cost of a model swap (evict + load + draw) beside a resident hit (draw only), side by
side in one run, for tiny diffusers pipelines and the built-in models.

    .venv/bin/python benchmarks/model_swap.py [--runs 5] [--json]

Diffusers: two tiny StableDiffusionXLPipeline folders (random weights, built offline into a
temporary directory) behind one residency manager. "Hit" alternates calls on one model that
stays loaded; "swap" alternates the two models under a budget that fits only one, so every
call evicts the other and loads its own. Built-in: the engine's process cache is emptied
before each "swap" call (weights read, runtime prepared again) and kept for each "hit".
Calls alternate hit/swap so machine noise hits both alike; medians in ms, and the ratio.
A tiny pipeline's load is mostly fixed overhead (reading configs, building modules); a real
model's load is dominated by reading gigabytes of weights, so its ratio is far larger.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import torch  # noqa: E402
from tests.support.tiny_diffusers import build_tiny_sdxl, tiny_card  # noqa: E402

from triptych.catalog.loader import load_catalog  # noqa: E402
from triptych.engines.base import GenerationRequest  # noqa: E402
from triptych.engines.builtin import engine as builtin  # noqa: E402
from triptych.engines.diffusers_engine import DiffusersEngine  # noqa: E402
from triptych.engines.residency import Residency  # noqa: E402
from triptych.settings import Settings  # noqa: E402


def ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def diffusers_rows(runs: int, settings: Settings) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        a = build_tiny_sdxl(Path(tmp) / "a", seed=0)
        b = build_tiny_sdxl(Path(tmp) / "b", seed=1)
        request = GenerationRequest("a red circle", 32, 32, seed=1)
        hits = Residency()
        one = DiffusersEngine(tiny_card("a", a), settings, hits)
        one.generate(request)  # loaded once, then only hits
        probe = hits.report()["models"][0]["bytes"]
        tight = Residency({"cpu": int(probe * 1.5)})  # room for one of the two
        swap_a = DiffusersEngine(tiny_card("a", a), settings, tight)
        swap_b = DiffusersEngine(tiny_card("b", b), settings, tight)
        swap_b.generate(request)
        hit_ms, swap_ms = [], []
        for _ in range(runs):
            hit_ms.append(ms(lambda: one.generate(request)))
            swap_ms.append(ms(lambda: swap_a.generate(request)))  # evicts b, loads a
            hit_ms.append(ms(lambda: one.generate(request)))
            swap_ms.append(ms(lambda: swap_b.generate(request)))  # evicts a, loads b
        report = tight.report()
        assert report["evictions"] >= 2 * runs, report  # every swap call really swapped
        hits.clear()
        tight.clear()
    return {"hit_ms": statistics.median(hit_ms), "swap_ms": statistics.median(swap_ms),
            "bytes": probe}


def builtin_rows(model: str, runs: int, settings: Settings) -> dict[str, float] | None:
    card = load_catalog().get(model)
    if not builtin.factory.availability(card, settings).available:
        return None
    engine = builtin.BuiltinEngine(card, settings)
    request = GenerationRequest("a red circle", 64, 64, seed=1)
    engine.generate(request)
    hit_ms, swap_ms = [], []
    for _ in range(runs):
        hit_ms.append(ms(lambda: engine.generate(request)))
        builtin.clear_cache()
        swap_ms.append(ms(lambda: engine.generate(request)))
    return {"hit_ms": statistics.median(hit_ms), "swap_ms": statistics.median(swap_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    torch.set_num_threads(settings.torch_threads)
    rows = {"tiny diffusers (SDXL class)": diffusers_rows(args.runs, settings)}
    for model in ("pico-turbo", "pico-diffusion"):
        row = builtin_rows(model, args.runs, settings)
        if row is not None:
            rows[f"built-in {model}"] = row
    for row in rows.values():
        row["ratio"] = row["swap_ms"] / row["hit_ms"]
    if args.json:
        print(json.dumps({"rows": rows, "runs": args.runs,
                          "load_average": os.getloadavg()}, indent=2))
        return
    print(f"{'model':32} {'resident hit':>14} {'swap':>12} {'swap / hit':>11}")
    for name, row in rows.items():
        print(f"{name:32} {row['hit_ms']:11.1f} ms {row['swap_ms']:9.1f} ms "
              f"{row['ratio']:10.1f}x")
    print(f"median of {args.runs} runs each; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
