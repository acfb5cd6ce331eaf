"""Why pico-turbo's speed-up over pico-diffusion is what it is: the cost of one U-Net step,
per runtime, side by side.

    .venv/bin/python benchmarks/unet_step_cost.py [--runs 40] [--threads 1] [--json]

Times, in one interleaved loop and for each serving runtime (TorchScript-frozen, ONNX
Runtime): pico-diffusion's U-Net at batch 1 (a full-size few-step student's step) and batch 2
(a pico-diffusion step: cond + uncond in one batch), the shipped pico-turbo at batch 1, the
fixed cost of an image (text encoding + decoding), and leaner student U-Nets with random
weights (their cost does not depend on the weights). It
prints the speed-up each student would give at 4 steps against pico-diffusion's 20 CFG steps
on the same runtime, the same for DeepCache sampling (a full step that keeps its deep feature,
then a shallow step that recomputes only the 16x16 level around it, twice), and the step cost
an 8x speed-up needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch

from triptych.diffusion.onnx_runtime import OnnxDenoiser, OnnxGraph
from triptych.diffusion.pipeline import _Decode, _TracedUNet
from triptych.nets.autoencoder import load_pretrained
from triptych.nets.checkpoint import weights_path
from triptych.nets.pico import PicoModel, load_pico

TEACHER_STEPS, TURBO_STEPS, TARGET = 20, 4, 8.0
RUNTIMES = ("torchscript", "onnx")


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

    teacher = load_pico(weights_path("pico-diffusion"))  # its batch-2 step is the CFG step
    bundle = load_pico(weights_path("pico-turbo"))
    cfg = teacher.model.cfg
    ae = load_pretrained()
    ids = bundle.tokenizer(["two cats on a blue background"])

    def student(**changes) -> PicoModel:  # cost does not depend on the weights
        return PicoModel(dataclasses.replace(cfg, **changes)).eval()

    variants = {
        "full U-Net": teacher.model.eval(),
        "shipped pico-turbo": bundle.model.eval(),
        "no 8x8 attention": student(attn_levels=(2,)),
        "no 4x4 attention": student(attn_levels=(1,)),
        "8x8 cross+MLP, no 4x4": student(attn_levels=(1,), lite_levels=(1,),
                                         lite_parts=("cross", "mlp")),
        "8x8 cross only, no 4x4": student(attn_levels=(1,), lite_levels=(1,)),
        "ch 24": student(ch=24),
    }
    serve = {"torchscript": lambda m: _TracedUNet(m),
             "onnx": lambda m: OnnxDenoiser(m, m.unet, args.threads)}
    decoders = {"torchscript": lambda z: ae.decode(ae.denormalize(z)),
                "onnx": OnnxGraph(_Decode(ae), args.threads)}
    x1, x2 = torch.randn(1, 4, 16, 16), torch.randn(2, 4, 16, 16)
    t1, t2 = torch.full((1,), 0.5), torch.full((2,), 0.5)
    z = torch.randn(1, 4, 16, 16)
    times: dict[tuple[str, str], list[float]] = {}
    with torch.inference_mode():
        ctx1 = {name: m.encode_text(ids) for name, m in variants.items()}
        ctx2 = tuple(torch.cat([c, c]) for c in ctx1["full U-Net"])
        nets = {(rt, name): serve[rt](m) for rt in RUNTIMES for name, m in variants.items()}
        for (rt, name), net in nets.items():  # trace / export outside the timed loop
            net(x1, t1, context=ctx1[name])
            if name == "full U-Net":
                net(x2, t2, context=ctx2)
                _v, deep = net.keep(x1, t1, context=ctx1[name])
                net.shallow(x1, t1, deep, context=ctx1[name])
            decoders[rt](z)
        for run in range(args.runs + 5):
            keep = run >= 5
            for (rt, name), net in nets.items():
                _timed(lambda n=net, c=ctx1[name]: n(x1, t1, context=c),
                       times.setdefault((rt, name), []) if keep else [])
                if name == "full U-Net":
                    _timed(lambda n=net: n(x2, t2, context=ctx2),
                           times.setdefault((rt, "batch 2 (CFG)"), []) if keep else [])
                    _timed(lambda n=net, c=ctx1[name]: n.keep(x1, t1, context=c),
                           times.setdefault((rt, "keep"), []) if keep else [])
                    _timed(lambda n=net, c=ctx1[name]: n.shallow(x1, t1, deep, context=c),
                           times.setdefault((rt, "shallow"), []) if keep else [])
            for rt in RUNTIMES:
                _timed(lambda d=decoders[rt]: (bundle.model.encode_text(ids), d(z)),
                       times.setdefault((rt, "fixed"), []) if keep else [])

    ms = {key: statistics.median(v) for key, v in times.items()}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in variants.items()}
    result: dict = {"threads": args.threads, "runs": args.runs, "params": params}
    for rt in RUNTIMES:
        fixed, cfg_step = ms[(rt, "fixed")], ms[(rt, "batch 2 (CFG)")]
        teacher = TEACHER_STEPS * cfg_step + fixed
        result[rt] = {
            "median_ms": {name: round(ms[(rt, name)], 2) for name in variants}
            | {"batch 2 (CFG)": round(cfg_step, 2), "fixed: encode text + decode": round(fixed, 2)},
            "pico_diffusion_ms_estimate": round(teacher, 1),
            "speedup_at_4_steps": {name: round(teacher / (TURBO_STEPS * ms[(rt, name)] + fixed), 2)
                                   for name in variants},
            "step_ms_needed_for_8x": round((teacher / TARGET - fixed) / TURBO_STEPS, 2),
            # DeepCache at 4 steps: full (keeping the deep feature), shallow, full, shallow
            "deep_cache": {
                "keep_ms": round(ms[(rt, "keep")], 2), "shallow_ms": round(ms[(rt, "shallow")], 2),
                "speedup_at_4_steps": round(teacher / (2 * ms[(rt, "keep")]
                                                       + 2 * ms[(rt, "shallow")] + fixed), 2)},
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.threads} thread(s), median of {args.runs} interleaved runs")
    for rt in RUNTIMES:
        r = result[rt]
        med = r["median_ms"]
        print(f"{rt}:")
        print(f"  {'fixed: encode text + decode':<32} {med['fixed: encode text + decode']:6.2f} ms")
        print(f"  {'full U-Net, batch 2 (CFG)':<32} {med['batch 2 (CFG)']:6.2f} ms  -> "
              f"pico-diffusion ~{r['pico_diffusion_ms_estimate']:.1f} ms ({TEACHER_STEPS} steps)")
        for name in variants:
            print(f"  {name + ', batch 1':<32} {r['median_ms'][name]:6.2f} ms  "
                  f"{params[name]:>9,} params  -> {r['speedup_at_4_steps'][name]:.2f}x at "
                  f"{TURBO_STEPS} steps")
        dc = r["deep_cache"]
        print(f"  {'DeepCache: full step keeping':<32} {dc['keep_ms']:6.2f} ms, shallow step "
              f"{dc['shallow_ms']:.2f} ms  -> {dc['speedup_at_4_steps']:.2f}x at 4 steps "
              f"(full, shallow, full, shallow)")
        print(f"  an {TARGET:.0f}x speed-up at {TURBO_STEPS} steps needs a step of <= "
              f"{r['step_ms_needed_for_8x']:.2f} ms")


if __name__ == "__main__":
    main()
