"""Side-by-side latency of the built-in models at batch 1 (median ms/image) and the speed-up.

    .venv/bin/python benchmarks/builtin_speed.py [--runs 20] [--threads N] [--json]

Runs the real engine path (``BuiltinEngine.generate``: tokenise, sample, decode, to PIL) for
one 64x64 image per call, alternating the models call by call so machine noise hits both
alike. Each built-in model whose checkpoints are present runs at its catalog default steps;
pico-turbo is also timed at 1, 2 and 4 steps. The layout check's cost (one extra batch of
two model calls, only for prompts that state a spatial relation) is timed on a relation prompt
with the check on and off, for pico-diffusion and pico-turbo. pico-diffusion and pico-turbo are
also timed on TorchScript beside the serving runtime (``--runtime``, default the engine's:
ONNX Runtime when installed), and on ONNX Runtime with the float decoder beside the int8 one
(``Settings.decoder_int8``), so each gain is a ratio from one run. When pico-turbo's sampling
reuses the deep U-Net feature on its last steps (DeepCache, ``SamplingDefaults.reuse_tail``),
it is also timed with every step full.
Threads default to ``Settings().torch_threads`` (what the engine uses). The load average is
printed with the result: on a shared machine it explains most of the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace

import torch

from triptych.catalog.loader import load_catalog
from triptych.diffusion.pipeline import serving_runtime
from triptych.engines.base import GenerationRequest
from triptych.engines.builtin.engine import BuiltinEngine, load_pipeline
from triptych.engines.builtin.engine import factory as builtin_factory
from triptych.settings import Settings

PROMPTS = ("a red circle", "two cats on a blue background", "a dog to the left of a cat",
           "the word HELLO in white on black", "three yellow stars")
RELATION = "a dog to the left of a cat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runtime", default=None,
                        help="auto, onnx, torchscript or eager (default: the engine's setting)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads is None:
        args.threads = Settings().torch_threads
    torch.set_num_threads(args.threads)

    settings = Settings(torch_threads=args.threads, **(
        {"runtime": args.runtime} if args.runtime else {}))
    runtime = serving_runtime(settings.runtime)
    torchscript = Settings(torch_threads=args.threads, runtime="torchscript")
    float_decoder = settings.model_copy(update={"decoder_int8": False})
    catalog = load_catalog()
    turbo_card, diff_card = catalog.get("pico-turbo"), catalog.get("pico-diffusion")
    # name -> (engine, steps, fixed prompt or None for the rotating PROMPTS, options,
    #          sampling defaults replaced for that case alone)
    cases = {
        f"pico-diffusion ({diff_card.default_steps} steps, CFG)":
            (BuiltinEngine(diff_card, settings), diff_card.default_steps, None, {}, {}),
        f"pico-turbo ({turbo_card.default_steps} steps)":
            (BuiltinEngine(turbo_card, settings), turbo_card.default_steps, None, {}, {}),
    }
    for steps in (1, 2, 4):
        if steps != turbo_card.default_steps:
            cases[f"pico-turbo ({steps} step{'s' if steps > 1 else ''})"] = (
                BuiltinEngine(turbo_card, settings), steps, None, {}, {})
    if runtime != "torchscript":
        for card in (diff_card, turbo_card):
            cases[f"{card.id} ({card.default_steps} steps), torchscript"] = (
                BuiltinEngine(card, torchscript), card.default_steps, None, {}, {})
    if runtime == "onnx" and settings.decoder_int8:
        for card in (diff_card, turbo_card):
            cases[f"{card.id} ({card.default_steps} steps), float decoder"] = (
                BuiltinEngine(card, float_decoder), card.default_steps, None, {}, {})
    turbo_engine = BuiltinEngine(turbo_card, settings)
    if load_pipeline(turbo_engine.target, turbo_engine.threads, turbo_engine.runtime,
                     turbo_engine.onnx_cache, turbo_engine.decoder_int8).bundle.sampling.reuse_tail:
        cases[f"pico-turbo ({turbo_card.default_steps} steps), every step full"] = (
            turbo_engine, turbo_card.default_steps, None, {}, {"reuse_tail": 0})
    for card in catalog:
        if card.builtin and card.id not in ("pico-turbo", "pico-diffusion") and \
                builtin_factory.availability(card, settings).available:
            cases[f"{card.id} ({card.default_steps} steps)"] = (BuiltinEngine(card, settings),
                                                               card.default_steps, None, {}, {})
    for card in (diff_card, turbo_card):
        for on in (True, False):
            cases[f"{card.id}, relation prompt, check {'on' if on else 'off'}"] = (
                BuiltinEngine(card, settings), card.default_steps, RELATION,
                {"layout_check": on}, {})
    pipes = {name: load_pipeline(engine.target, engine.threads, engine.runtime,
                                 engine.onnx_cache, engine.decoder_int8)
             for name, (engine, *_) in cases.items()}  # load outside the timed region
    times: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(args.runs + 2):  # the first 2 rounds are warm-up
        for name, (engine, steps, prompt, options, sampling) in cases.items():
            request = GenerationRequest(prompt=prompt or PROMPTS[run % len(PROMPTS)], width=64,
                                        height=64, seed=run, steps=steps, options=options)
            defaults = pipes[name].bundle.sampling
            pipes[name].bundle.sampling = replace(defaults, **sampling)
            start = time.perf_counter()
            engine.generate(request)
            elapsed = time.perf_counter() - start
            pipes[name].bundle.sampling = defaults
            if run >= 2:
                times[name].append(elapsed * 1000)

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    names = list(cases)
    ratio = medians[names[0]] / medians[names[1]]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {"threads": args.threads, "runtime": runtime, "runs": args.runs,
              "load_average_1min": load,
              "median_ms": {k: round(v, 1) for k, v in medians.items()},
              "speedup_turbo_vs_diffusion": round(ratio, 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"batch 1, 64x64, {args.threads} threads, {runtime}, median of {args.runs} runs, "
          f"load average {load}")
    for name, ms in medians.items():
        print(f"  {name:<48} {ms:8.1f} ms/image")
    print(f"  speed-up, turbo vs diffusion (default steps): {ratio:.2f}x")


if __name__ == "__main__":
    main()
