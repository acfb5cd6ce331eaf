"""pico-bits latency at batch 1 with and without the KV cache, side by side (median ms/image).

    .venv/bin/python benchmarks/bits_kv_cache.py [--runs 10] [--threads 2] [--trained] [--json]

Times the whole ``BitsPipeline`` call (tokenise the prompt, 64 AR tokens with CFG = cond +
uncond rows in one batch of 2, decode to 64x64) for the ``small`` configs. Random weights by
default (the cost does not depend on the values); ``--trained`` loads the packaged
checkpoints instead. Cases alternate call by call so machine noise hits all alike, and each
cached image is checked to be identical to the uncached one: the cache changes the cost only.
Also timed: the cached decode with the GPT in bf16, which the engine uses only where the CPU
multiplies bf16 natively (``fast_dtype()``: AVX512_BF16 or AMX); the result says which.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import torch

from triptych.autoregressive.pipeline import (
    BitsBundle,
    BitsPipeline,
    BitsSampling,
    fast_dtype,
    load_bits_pipeline,
)
from triptych.nets import bits_tokenizer as bt
from triptych.nets.bits_tokenizer import TOKENIZER_CONFIGS, BitsTokenizer
from triptych.nets.checkpoint import weights_path
from triptych.nets.gpt import GPT_CONFIGS, BitsGPT
from triptych.nets.text_encoder import Tokenizer

PROMPTS = ("a red circle", "two cats on a blue background", "a dog to the left of a cat",
           "the word HELLO in white on black", "three yellow stars")


def random_pipeline() -> BitsPipeline:
    words = Tokenizer.build(PROMPTS + ("a b c d e f g h i j k l m n o p",), max_len=24)
    cfg = GPT_CONFIGS["small"]
    cfg = replace(cfg, text=replace(cfg.text, vocab_size=256, max_len=words.max_len))
    torch.manual_seed(0)
    model = BitsGPT(cfg).eval().requires_grad_(False)
    tok = BitsTokenizer(TOKENIZER_CONFIGS["small"]).eval().requires_grad_(False)
    return BitsPipeline(BitsBundle(model, words, BitsSampling(guidance=3.0)), tok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trained", action="store_true", help="use the packaged weights")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    def build(dtype: torch.dtype | None) -> BitsPipeline:
        if args.trained:
            return load_bits_pipeline(weights_path("pico-bits"),
                                      weights_path(bt.CHECKPOINT_NAME), dtype=dtype)
        pipe = random_pipeline()
        return BitsPipeline(pipe.bundle, pipe.tok, dtype=dtype)

    fp32, fast = build(None), build(torch.bfloat16)
    n_params = sum(p.numel() for p in fp32.bundle.model.parameters())
    fast_name = "bf16"
    cases = {  # name: (pipeline, use_cache, AR steps); pairs differ only in the cache
        "KV cache, 1 token/step (64 steps)": (fp32, True, 64),
        "no cache, 1 token/step (64 steps)": (fp32, False, 64),
        "KV cache, 2 tokens/step (32 steps)": (fp32, True, 32),
        "no cache, 2 tokens/step (32 steps)": (fp32, False, 32),
        f"KV cache, 1 token/step, {fast_name}": (fast, True, 64),
        f"KV cache, 2 tokens/step, {fast_name}": (fast, True, 32),
    }
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(args.runs + 1):  # round 0 is warm-up
        prompt = PROMPTS[run % len(PROMPTS)]
        images = {}
        for name, (pipe, use_cache, steps) in cases.items():
            start = time.perf_counter()
            images[name] = pipe([prompt], [run], steps=steps, use_cache=use_cache)
            if run >= 1:
                times[name].append((time.perf_counter() - start) * 1000)
        for a, b in ((names[0], names[1]), (names[2], names[3])):
            assert torch.equal(images[a], images[b]), f"{a} and {b} drew different images"

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    speedup_1 = medians[names[1]] / medians[names[0]]
    speedup_2 = medians[names[3]] / medians[names[2]]
    result = {"threads": args.threads, "runs": args.runs, "weights":
              "trained" if args.trained else "random (small config)", "gpt_params": n_params,
              "median_ms": {k: round(v, 1) for k, v in medians.items()},
              "engine_dtype": str(fast_dtype()).removeprefix("torch."),
              "cache_speedup_1_token_per_step": round(speedup_1, 2),
              "cache_speedup_2_tokens_per_step": round(speedup_2, 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"pico-bits, batch 1 (CFG: 2 rows), 64x64, {args.threads} threads, "
          f"median of {args.runs} runs, {result['weights']}, GPT {n_params:,} params")
    for name, ms in medians.items():
        print(f"  {name:<38} {ms:8.1f} ms/image")
    print(f"  KV-cache speed-up, 1 token/step:  {speedup_1:.2f}x")
    print(f"  KV-cache speed-up, 2 tokens/step: {speedup_2:.2f}x")
    print(f"  the engine decodes in {result['engine_dtype']} on this CPU (fast_dtype())")


if __name__ == "__main__":
    main()
