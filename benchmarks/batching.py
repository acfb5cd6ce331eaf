"""Built-in model throughput with request batching on vs off, side by side in one run.

For each model, ``c`` client threads (1, 4, 8) call one engine back to back, as ``c`` worker
threads running jobs do, each request with a progress callback that, like the job road's,
wants a preview at most every ``PREVIEW_EVERY`` seconds per client (``Listener``; so most
preview decodes are skipped, alone and batched alike). "off" is the plain engine (one
sampling at a time per model); "on" wraps it in ``engines/batching.BatchingEngine``. Rounds
alternate off/on so machine load drifts hit both; each cell prints the median of its
rounds. Then a profile of where a pico-turbo image spends its time, alone and in a batch
of 8 ("engine, with previews": every preview decoded, the cost the skipping avoids), and
the U-Net step's arithmetic rate at both sizes: the most a batch can gain on it.

    .venv/bin/python benchmarks/batching.py [--models pico-turbo,pico-diffusion,...]
        [--seconds 2] [--rounds 3] [--window-ms 2]

Prints images/s per model, concurrency and mode, and the on/off ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from triptych.catalog.loader import load_catalog  # noqa: E402
from triptych.engines.base import GenerationRequest  # noqa: E402
from triptych.engines.batching import BatchingEngine  # noqa: E402
from triptych.engines.builtin import engine as builtin  # noqa: E402
from triptych.service.jobs import PREVIEW_EVERY  # noqa: E402
from triptych.settings import Settings  # noqa: E402

PROMPTS = ["a red circle on a blue background", "two cats", "a dog left of a cat",
           "a star above a moon", "three fish on green", "a yellow ball", "a tree",
           "a heart on white"]


class Listener:
    """A job's progress callback as the service gives it: every fraction, and a picture only
    when one would be published (``wants_preview``)."""

    def __init__(self) -> None:
        self.last_preview = float("-inf")

    def __call__(self, _fraction: float, preview) -> None:
        if preview is not None:
            self.last_preview = time.monotonic()

    def wants_preview(self) -> bool:
        return time.monotonic() - self.last_preview >= PREVIEW_EVERY


def cell(engine, clients: int, seconds: float) -> float:
    """Images/s of ``clients`` threads calling ``engine.generate`` for ``seconds``."""
    done = [0] * clients
    start = time.perf_counter()
    deadline = start + seconds

    def client(k: int) -> None:
        i = 0
        listener = Listener()
        while time.perf_counter() < deadline:
            request = GenerationRequest(PROMPTS[(k + i) % len(PROMPTS)], 64, 64,
                                        seed=1000 * k + i)
            engine.generate(request, listener)
            done[k] += 1
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - start)


def bench_model(model_id: str, settings: Settings, args: argparse.Namespace) -> None:
    plain = builtin.factory.create(load_catalog().get(model_id), settings)
    batched = BatchingEngine(plain, window=args.window_ms / 1000, max_batch=8)
    # load, export every graph and trace every batch shape the run will meet
    plain.generate(GenerationRequest("warm up", 64, 64, 0))
    for size in (2, 4, 8):
        plain.generate_batch([GenerationRequest(p, 64, 64, i) for i, p in
                              enumerate(PROMPTS[:size])], [None] * size)
    for clients in (1, 4, 8):
        rates: dict[str, list[float]] = {"off": [], "on": []}
        batched.sizes.clear()
        for _ in range(args.rounds):
            rates["off"].append(cell(plain, clients, args.seconds))
            rates["on"].append(cell(batched, clients, args.seconds))
        off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
        runs = sum(batched.sizes.values())
        mean = sum(s * c for s, c in batched.sizes.items()) / runs if runs else 0
        print(f"{model_id:15s} {clients:3d} {off:9.1f} {on:9.1f} {on / off:6.2f}x "
              f"{mean:10.1f}", flush=True)


def profile(settings: Settings) -> None:
    """Where a pico-turbo image spends its time at batch 1 and 8 (ms per image)."""
    from triptych.diffusion.pipeline import seeded_noise

    plain = builtin.factory.create(load_catalog().get("pico-turbo"), settings)
    pipe = plain._pipeline()

    def ms(fn, reps: int = 30) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - start) / reps * 1000

    def parts(b: int) -> dict:
        prompts, seeds = (PROMPTS * 2)[:b], list(range(b))
        noise, ctx = seeded_noise(seeds), pipe.encode(prompts)
        t = torch.full((b,), 0.5)
        z = pipe.latents(prompts, noise)
        one = [GenerationRequest(p, 64, 64, s) for p, s in zip(prompts, seeds, strict=True)]
        listen = [lambda _f, _p: None] * b
        return {
            "text encoder": lambda: pipe.encode(prompts),
            "U-Net step (full)": lambda: pipe._net.keep(noise, t, context=ctx),
            "sampling (all steps)": lambda: pipe.latents(prompts, noise),
            "decoder": lambda: pipe.decode(z),
            "whole pipeline": lambda: pipe(prompts, seeds),
            "engine, with previews": (lambda: plain.generate(one[0], listen[0])) if b == 1
            else (lambda: plain.generate_batch(one, listen)),
        }

    print("\npico-turbo, ms per image     batch 1   batch 8")
    rows: dict[str, list[float]] = {}
    for b in (1, 8):
        for name, fn in parts(b).items():
            rows.setdefault(name, []).append(ms(fn) / b)
    for name, (one_ms, eight_ms) in rows.items():
        print(f"  {name:24s} {one_ms:7.2f}   {eight_ms:7.2f}")
    # how close a U-Net step already runs to the core's arithmetic at batch 1: what is left
    # is all a batch can save on it
    flops = step_flops(pipe)
    one, eight = (flops / (t / 1000) / 1e9 for t in rows["U-Net step (full)"])
    print(f"  U-Net step: {flops / 1e6:.0f} MFLOP per image; {one:.0f} GFLOP/s at batch 1, "
          f"{eight:.0f} at batch 8 (at most {eight / one:.2f}x from batching)")


def step_flops(pipe) -> float:  # noqa: ANN001 - a PicoPipeline
    """Floating-point operations of one full U-Net step for one image (counted on the eager
    model: the same arithmetic ONNX Runtime runs)."""
    from torch.utils.flop_counter import FlopCounterMode

    from triptych.diffusion.pipeline import seeded_noise

    model = pipe.bundle.model
    ctx, mask = model.encode_text(pipe.bundle.tokenizer([PROMPTS[0]]))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.unet.forward_keep(seeded_noise([0]), torch.full((1,), 0.5), ctx, mask)
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(m for m, s in builtin.MODELS.items()
                                                      if s.batches))
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window-ms", type=float, default=Settings().batch_window_ms)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = Settings(torch_threads=1)
    print(f"{torch.get_num_threads()} torch thread, window {args.window_ms} ms, max batch 8, "
          f"{args.rounds} rounds of {args.seconds} s, median\n")
    print("model           clients  off img/s  on img/s  ratio  mean batch")
    for model_id in args.models.split(","):
        bench_model(model_id.strip(), settings, args)
    profile(settings)


if __name__ == "__main__":
    main()
