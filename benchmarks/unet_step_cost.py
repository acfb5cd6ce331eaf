"""Why pico-turbo's speed-up stops near 5x at 4 steps: the cost of one U-Net step, side by side.

    .venv/bin/python benchmarks/unet_step_cost.py [--runs 40] [--threads 1] [--json]

Times, in one interleaved loop, the shipped U-Net (TorchScript-frozen, as the engine runs it)
at batch 1 (a pico-turbo step) and batch 2 (a pico-diffusion step: cond + uncond in one
batch), the fixed cost of an image (text encoding + decoding), and smaller student U-Nets with
random weights (their cost does not depend on the weights). It prints the speed-up each
student would give at 4 steps against pico-diffusion's 20 CFG steps, and the step cost an
8x speed-up needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch

from triptych.diffusion.pipeline import _TracedUNet
from triptych.nets.autoencoder import load_pretrained
from triptych.nets.checkpoint import weights_path
from triptych.nets.pico import PicoModel, load_pico

TEACHER_STEPS, TURBO_STEPS, TARGET = 20, 4, 8.0


def _timed(fn, times: list[float]) -> None:
    start = time.perf_counter()
    fn()
    times.append((time.perf_counter() - start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bundle = load_pico(weights_path("pico-turbo"))
    cfg = bundle.model.cfg
    ae = load_pretrained()
    ids = bundle.tokenizer(["two cats on a blue background"])
    variants = {
        "shipped U-Net": bundle.model,
        "no 8x8 attention": PicoModel(dataclasses.replace(cfg, attn_levels=(2,))),
        "two levels (16, 8)": PicoModel(dataclasses.replace(cfg, mult=(1, 2), attn_levels=(1,))),
        "ch 24": PicoModel(dataclasses.replace(cfg, ch=24)),
    }
    nets = {name: (_TracedUNet(m.eval()), m) for name, m in variants.items()}
    x1, x2 = torch.randn(1, 4, 16, 16), torch.randn(2, 4, 16, 16)
    t1, t2 = torch.full((1,), 0.5), torch.full((2,), 0.5)
    z = torch.randn(1, 4, 16, 16)
    times: dict[str, list[float]] = {name: [] for name in nets}
    times["shipped U-Net, batch 2 (CFG)"] = []
    times["fixed: encode text + decode"] = []
    with torch.inference_mode():
        ctx1 = {name: m.encode_text(ids) for name, (_, m) in nets.items()}
        ctx2 = tuple(torch.cat([c, c]) for c in ctx1["shipped U-Net"])
        for name, (net, _) in nets.items():  # trace outside the timed loop
            net(x1, t1, context=ctx1[name])
        nets["shipped U-Net"][0](x2, t2, context=ctx2)
        for run in range(args.runs + 5):
            keep = run >= 5
            for name, (net, _) in nets.items():
                _timed(lambda n=net, c=ctx1[name]: n(x1, t1, context=c),
                       times[name] if keep else [])
            _timed(lambda: nets["shipped U-Net"][0](x2, t2, context=ctx2),
                   times["shipped U-Net, batch 2 (CFG)"] if keep else [])
            _timed(lambda: (bundle.model.encode_text(ids), ae.decode(ae.denormalize(z))),
                   times["fixed: encode text + decode"] if keep else [])

    ms = {name: statistics.median(v) for name, v in times.items()}
    fixed, cfg_step = ms["fixed: encode text + decode"], ms["shipped U-Net, batch 2 (CFG)"]
    teacher = TEACHER_STEPS * cfg_step + fixed
    speedups = {name: teacher / (TURBO_STEPS * ms[name] + fixed) for name in nets}
    needed = (teacher / TARGET - fixed) / TURBO_STEPS
    params = {name: sum(p.numel() for p in m.parameters()) for name, (_, m) in nets.items()}
    result = {"threads": args.threads, "runs": args.runs,
              "median_ms": {k: round(v, 2) for k, v in ms.items()},
              "pico_diffusion_ms_estimate": round(teacher, 1),
              "speedup_at_4_steps": {k: round(v, 2) for k, v in speedups.items()},
              "step_ms_needed_for_8x": round(needed, 2), "params": params}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.threads} thread(s), median of {args.runs} interleaved runs")
    print(f"  {'fixed: encode text + decode':<30} {fixed:6.2f} ms")
    print(f"  {'shipped U-Net, batch 2 (CFG)':<30} {cfg_step:6.2f} ms  "
          f"-> pico-diffusion ~{teacher:.1f} ms ({TEACHER_STEPS} steps)")
    for name in nets:
        print(f"  {name + ', batch 1':<30} {ms[name]:6.2f} ms  {params[name]:>9,} params  "
              f"-> {speedups[name]:.2f}x at {TURBO_STEPS} steps")
    print(f"  an {TARGET:.0f}x speed-up at {TURBO_STEPS} steps needs a step of <= {needed:.2f} ms")


if __name__ == "__main__":
    main()
