"""Cost of pico-dit and pico-lm (untrained ``small`` configs): params, ms per NFE at batch 1 and
2 (2 = one CFG step), a whole 64x64 image, and optionally one training step at B=64.

    .venv/bin/python benchmarks/dit_family_speed.py [--threads 2] [--reps 20] [--train] [--json]

Weights are random (cost does not depend on them). The image time runs the real pipeline
(text front-end, ``steps`` Euler steps with CFG, autoencoder decode) for one prompt; pico-lm's
includes encoding a fresh prompt with MiniLM (its per-process prompt cache is bypassed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import torch

from triptych.diffusion.dit_pipeline import DiTPipeline
from triptych.nets.autoencoder import AE_CONFIGS, Autoencoder
from triptych.nets.pico import SamplingDefaults
from triptych.nets.pico_dit import TransformerBundle
from triptych.training.pico_dit import build_pico_dit
from triptych.training.pico_lm import build_pico_lm


def _median_ms(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--size", default="small")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--train", action="store_true", help="also time B=64 train steps")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from triptych.nets.lm_connector import FrozenLM
    from triptych.training.data import build_tokenizer

    tok = build_tokenizer(0, n_captions=2000)
    lm = FrozenLM()
    lm(["warm up the language model"])
    ae = Autoencoder(AE_CONFIGS["base"]).eval()
    models = {"pico-dit": (build_pico_dit(args.size, len(tok), tok.max_len), tok),
              "pico-lm": (build_pico_lm(args.size), lm)}
    result: dict[str, dict] = {"threads": args.threads, "size": args.size}
    for name, (model, front) in models.items():
        model.eval()
        row: dict = {"params": sum(p.numel() for p in model.parameters())}
        with torch.inference_mode():
            ctx = model.encode_text(front(["a dog to the left of a cat on a blue background"]))
            for b in (1, 2):
                x, t = torch.randn(b, 4, 16, 16), torch.rand(b)
                c = tuple(torch.cat([v] * b) for v in ctx)
                row[f"ms_per_nfe_b{b}"] = round(_median_ms(
                    lambda x=x, t=t, c=c, m=model: m(x, t, context=c), args.reps), 1)
        pipe = DiTPipeline(TransformerBundle(model, front, SamplingDefaults(args.steps, 3.0)), ae)
        counter = iter(range(10**6))

        def image(pipe=pipe, counter=counter, lm_case=name == "pico-lm") -> None:
            k = next(counter)
            prompt = f"a dog to the left of a cat number {k}" if lm_case else "a dog"
            pipe([prompt], [k])

        row[f"ms_per_image_{args.steps}_steps_cfg"] = round(_median_ms(image, max(3, args.reps
                                                                                 // 4)), 1)
        if args.train:
            for bf16 in (False, True):
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
                model.train()
                feats = front(["a red circle on a blue background"] * 64)

                def step(bf16=bf16, opt=opt, feats=feats, model=model) -> None:
                    x, t = torch.randn(64, 4, 16, 16), torch.rand(64)
                    ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
                           else contextlib.nullcontext())
                    with ctx:
                        loss = model(x, t, feats).float().pow(2).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()

                row["train_step_b64_" + ("bf16" if bf16 else "fp32") + "_s"] = round(
                    _median_ms(step, max(1, args.reps // 10)) / 1000, 2)
        result[name] = row
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
