"""Train the bits tokenizer (64x64x3 <-> 8x8 binary tokens) on an endless seeded render stream.

Loss: the shared autoencoder's reconstruction loss (L1 + MSE + image-gradient L1, from
``training.autoencoder``) plus the LFQ commitment and entropy terms (``nets.lfq``). Adam,
linear warm-up then cosine; no EMA (as the autoencoder: the codes must come from the exact
weights that the decoder was trained against). After training: reconstruction PSNR on fresh
renders (train split / held-out compositions / text scenes) and codebook health (codes used,
perplexity, bit balance), then the fp16 checkpoint and its model card.

``device="cuda"`` trains on a GPU (rendering stays on the CPU, ~1 ms per image); every random
draw comes from CPU generators, so a run is reproducible on either device up to float
rounding.
"""

from __future__ import annotations

import copy
import shlex
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.nets import bits_tokenizer as bt
from triptych.nets.autoencoder import psnr
from triptych.nets.bits_tokenizer import TOKENIZER_CONFIGS, BitsTokenizer
from triptych.nets.lfq import LFQ
from triptych.training import data, loop
from triptych.training.autoencoder import ae_loss
from triptych.training.common import (
    command_flags,
    count_params,
    machine_summary,
    md_table,
    seed_everything,
    with_overrides,
    write_card,
)

NAME = bt.CHECKPOINT_NAME


@dataclass(frozen=True)
class TokenizerTrainConfig:
    size: str = "small"  # key of TOKENIZER_CONFIGS
    steps: int = 2400  # the shipped run (1200 steps left objects at a 0.47 judge ceiling)
    batch: int = 32  # as the AE: half the step cost of 64, the stream never repeats
    lr: float = 1e-3
    warmup: int = 100
    grad_weight: float = 0.5  # edge loss: letters and emoji outlines
    checkpoint_every: int = 250  # steps ...
    checkpoint_minutes: float = 3.0  # ... or minutes, whichever comes first
    log_every: int = 25
    eval_n: int = 512  # fresh renders per split for PSNR and code usage


TINY = TokenizerTrainConfig(size="tiny", steps=4, batch=4, warmup=2, checkpoint_every=2,
                            log_every=1, eval_n=8)


@torch.no_grad()
def evaluate_tokenizer(model: BitsTokenizer, n: int, seed: int,
                       device: torch.device = torch.device("cpu")) -> dict[str, Any]:
    """PSNR (dB) of decode(encode(x)) per split and on text scenes, plus code usage."""
    model.eval()
    out: dict[str, Any] = {}
    text_scores: list[float] = []
    all_ids = []
    for split in ("train", "heldout"):
        images, _, scenes = data.render(n, seed, split)
        scores = []
        for i in range(0, n, 256):
            x = images[i : i + 256].to(device)
            ids = model.encode(x)  # [b,64]
            all_ids.append(ids.cpu())
            scores.append(psnr(model.decode(ids), x).cpu())
        s = torch.cat(scores)
        out[f"psnr_{split}"] = round(float(s.mean()), 2)
        text_scores += [float(v) for v, sc in zip(s, scenes, strict=True) if sc.kind == "text"]
    out["psnr"] = round((out["psnr_train"] + out["psnr_heldout"]) / 2, 2)
    if text_scores:
        out["psnr_text_scenes"] = round(sum(text_scores) / len(text_scores), 2)
    usage = LFQ.usage(torch.cat(all_ids), model.bits)
    out.update({k: round(v, 4) for k, v in usage.items()})
    return out


@torch.no_grad()
def judge_ceiling(model: BitsTokenizer, n: int, seed: int,
                  device: torch.device = torch.device("cpu"), log=print) -> dict | None:
    """The judge's per-attribute accuracy on fresh renders and on their reconstructions: the
    ceiling for anything that draws through this tokenizer. ``None`` (and a log line) when no
    judge checkpoint is available: this is an extra, not part of training."""
    from triptych.judge.checkpoint import JudgeCheckpointError, load_judge
    from triptych.judge.metrics import attribute_accuracy, per_attribute

    try:
        judge = load_judge()
    except JudgeCheckpointError as exc:  # missing or corrupt judge: skip, never fail
        log(f"no judge ceiling: {exc}")
        return None
    images, _, scenes = data.render(n, seed, "train")
    recon = torch.cat([model.decode(model.encode(images[i : i + 256].to(device))).cpu()
                       for i in range(0, n, 256)])
    out = {"renders": per_attribute(attribute_accuracy(judge, images, scenes)),
           "reconstructions": per_attribute(attribute_accuracy(judge, recon, scenes))}
    return {k: {a: round(v, 4) for a, v in d.items()} for k, d in out.items()}


def train_bits_tokenizer(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    threads: int | None = None,
    device: str | None = None,
    batch: int | None = None,
    max_minutes: float | None = None,
    workers: int = 0,
    overrides: dict[str, Any] | None = None,
    decoder_from: Path | None = None,
    lr: float | None = None,
    context_layers: int | None = None,
    size: str | None = None,
    log=print,
) -> dict[str, Any]:
    """``size``: a key of ``TOKENIZER_CONFIGS`` for a new tokenizer (default "small").
    ``workers``: processes that render the stream ahead (same batches; a GPU needs them).
    ``max_minutes``: fit the schedule to the clock (``ClockFit``) and stop there.
    ``decoder_from``: start from this trained tokenizer and train only its decoder: the
    encoder (so the token space, ``fingerprint``, and every pico-bits trained on it) stays
    as it is, and only what the tokens are drawn as improves. ``context_layers``: with
    ``decoder_from``, first give its decoder a transformer context stage of that many blocks
    (``bt.with_context``; it starts as a no-op, so training begins from the given drawing)."""
    cfg = with_overrides(TINY if tiny else TokenizerTrainConfig(), overrides, steps=steps,
                         batch=batch, lr=lr, size=size)
    if cfg.size not in TOKENIZER_CONFIGS:
        raise ValueError(f"unknown tokenizer size {cfg.size!r}; expected one of "
                         f"{', '.join(TOKENIZER_CONFIGS)}")
    paths = loop.prepare(NAME, NAME, out=out, run_dir=run_dir, tiny=tiny, threads=threads,
                         device=device)
    out, dev = paths.out, paths.device
    seed_everything(seed)
    if decoder_from is not None:
        model = bt.load(decoder_from)  # frozen; only the decoder learns below
        if context_layers is not None:
            model = bt.with_context(model, context_layers)
        model.decoder.requires_grad_(True)
        model.to(dev).train()
        model.encoder.eval()
        trained = model.decoder
    else:
        base = TOKENIZER_CONFIGS[cfg.size]
        model = BitsTokenizer(replace(base, context_layers=context_layers or 0)).to(dev).train()
        trained = model
    stream = _Stream(cfg.batch, seed, workers)

    def loss(step: int, _gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        images = stream(step).to(dev, non_blocking=True)
        if decoder_from is not None:  # the encoder's codes as they are: no LFQ terms
            with torch.no_grad():
                q, _, stats = model.quantizer(model.encoder(images))
            rec = value = ae_loss(model.decoder(q), images, cfg.grad_weight)
        else:
            recon, _, stats = model(images)
            rec = ae_loss(recon, images, cfg.grad_weight)
            value = rec + stats["loss"]
        return value, {"rec": rec, **{k: stats[k] for k in LOGGED}}

    try:
        outcome = loop.train(
            loop.Job(NAME, model, torch.optim.Adam(trained.parameters(), lr=cfg.lr), loss,
                     seed=seed),
            loop.Schedule.of(cfg, max_minutes=max_minutes), run_dir=paths.run_dir,
            resume=resume, log=log)
    finally:
        stream.close()  # stops the render workers before the evaluation renders its own sets
    state = outcome.state
    cfg = replace(cfg, steps=outcome.total)  # the schedule that ran (a fitted --max-minutes)

    metrics = evaluate_tokenizer(model, cfg.eval_n, seed + 2, dev)
    ceiling = None if tiny else judge_ceiling(model, cfg.eval_n, seed + 3, dev, log)
    summary = {"steps": state.step, "wall_s": round(state.wall_s, 1),
               "params": count_params(model), "bits": model.bits, "vocab": model.vocab_size,
               "threads": paths.threads, "device": str(dev), **metrics, "judge_ceiling": ceiling,
               "decoder_from": str(decoder_from) if decoder_from else None,
               # of the encoder as stored (fp16): what a GPT trained on the file will record
               "fingerprint": bt.fingerprint(copy.deepcopy(model).cpu().half().float())}
    model.cpu()
    bt.save(model, out, {"train": summary, "train_config": asdict(cfg), "seed": seed})
    write_tokenizer_card(out.with_suffix(".md"), model, cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary


LOGGED = ("commit", "sample_entropy", "batch_entropy")  # the LFQ terms in the log


class _Stream:
    """Batch k of the seeded render stream for step k, rendered ahead by ``workers``
    processes from the first step asked (a resumed run's) on."""

    def __init__(self, batch: int, seed: int, workers: int) -> None:
        self.batch, self.seed, self.workers = batch, seed, workers
        self.batches: Iterator[torch.Tensor] | None = None
        self.next = 0

    def __call__(self, step: int) -> torch.Tensor:
        if self.batches is None:
            self.batches = data.render_stream(self.batch, self.seed, step, self.workers)
            self.next = step
        if step != self.next:
            raise RuntimeError(f"render stream at batch {self.next}, step {step} asked")
        self.next += 1
        return next(self.batches)

    def close(self) -> None:
        if self.batches is not None:
            self.batches.close()


def write_tokenizer_card(path: Path, model: BitsTokenizer, cfg: TokenizerTrainConfig,
                         summary: dict, seed: int) -> None:
    c, q = model.cfg, model.cfg.lfq
    tiny = " --tiny" if cfg.size == "tiny" else ""
    command = f"triptych train {NAME} --seed {seed} --steps {cfg.steps}{tiny}" + command_flags(
        cfg, TINY if tiny else TokenizerTrainConfig(),
        {"batch": "--batch", "lr": "--lr", "size": "--size"},
        summary["device"])
    if c.context_layers:
        command += f" --context-layers {c.context_layers}"
    refined = summary.get("decoder_from")
    if refined:
        command = (f"# the tokenizer it started from: its own card's command (in this file's "
                   f"history)\n{command} --decoder-from <that tokenizer>")
    write_card(path, f"{NAME} (f=8 binary-token tokenizer, LFQ)", {
        "Architecture": (
            f"Plain conv encoder/decoder (TAESD-style ReLU ResBlocks, no norms), 64x64x3 <-> "
            f"8x8 tokens of {q.bits} bits. Encoder: PixelUnshuffle(2) -> conv {c.ch} -> "
            f"{c.blocks_hi} ResBlock(s) at 32x32 -> stride-2 {c.ch_mid} -> {c.blocks_mid} at "
            f"16x16 -> stride-2 {c.ch_low} -> {c.blocks_low} at 8x8 -> 1x1 conv to {q.bits} "
            f"channels -> sign (lookup-free quantisation, straight-through). Decoder mirrors "
            f"it, ending in PixelShuffle(2) and a thin {c.out_refine_ch}-channel full-resolution "
            f"conv{_context_note(c)}. A token id is the {q.bits} bits read as an integer "
            f"(bit 0 most significant): {2 ** q.bits} ids, raster order.\n\nParameters: "
            f"{summary['params']:,}. Stored as fp16 safetensors with the config in metadata."),
        "Data": (
            "An endless seeded stream of procedural world renders (`triptych.world`, train "
            f"split), batch {cfg.batch}: batch k = `render_batch({cfg.batch}, "
            "seed=stream_seed(seed, k))`."),
        "Training": md_table({
            "steps": summary["steps"], "batch": cfg.batch,
            "optimiser": f"Adam lr {cfg.lr}, {cfg.warmup} warm-up steps, cosine to 10 %, "
                         "grad clip 1.0",
            "loss": f"L1 + MSE + {cfg.grad_weight} x image-gradient L1 + LFQ (commit "
                    f"{q.commit_weight}, entropy {q.entropy_weight} x (per-token - "
                    f"{q.diversity_gamma} x batch, groups of {q.entropy_group} bits), "
                    f"inverse temperature {q.inv_temperature})",
            "seed": seed, "device": summary["device"],
            "wall time": f"{summary['wall_s'] / 60:.1f} min ({machine_summary()})",
        }) + (f"\n\nDecoder refinement: started from `{Path(refined).name}` and trained only "
              "its decoder (the loss above without the LFQ terms); the encoder, so the token "
              f"space (fingerprint `{summary.get('fingerprint')}`) and every pico-bits "
              "trained on it, is unchanged." if refined else ""),
        "Metrics": md_table({
            "PSNR, fresh train-split renders": f"{summary.get('psnr_train')} dB",
            "PSNR, held-out compositions split": f"{summary.get('psnr_heldout')} dB",
            "PSNR, text scenes only": f"{summary.get('psnr_text_scenes')} dB",
            "codes used (of the 2^K, on the eval renders)": summary.get("codes_used"),
            "code perplexity": summary.get("perplexity"),
            "worst bit imbalance |P(bit=1) - 0.5|": summary.get("bit_balance"),
        }) + f"\n\nMeasured on {cfg.eval_n} fresh renders per split (seed {seed + 2}).",
        "Judge ceiling": _ceiling_table(summary.get("judge_ceiling"), cfg.eval_n, seed + 3),
        "Reproduce": f"```\n{command}\n```\n\nAdd `--device cuda` on a GPU. Resumable: the "
                     f"run state lives in `runs/{NAME}/`; rerunning the command "
                     "continues it (`--no-resume` starts over).",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })


def _context_note(c: bt.BitsTokenizerConfig) -> str:
    if not c.context_layers:
        return ""
    return (f"; after its first 8x8 conv, a residual context stage: {c.context_layers} "
            f"bidirectional transformer block(s) of width {c.context_dim} ({c.context_heads} "
            "heads, learned positions) over the 64 cells, output projection initialised at "
            "zero, so every cell is drawn knowing the whole scene")


def _ceiling_table(ceiling: dict | None, n: int, seed: int) -> str:
    if not ceiling:
        return ("Not measured (no judge checkpoint when the tokenizer was trained). It is the "
                "judge's per-attribute accuracy on reconstructions: the best pico-bits can do.")
    rows = ["| attribute | renders | reconstructions |", "|---|---|---|"]
    rows += [f"| {k} | {v} | {ceiling['reconstructions'].get(k)} |"
             for k, v in ceiling["renders"].items()]
    return ("\n".join(rows) + f"\n\nThe judge's per-attribute accuracy on {n} fresh renders "
            f"(seed {seed}) and on their tokenizer reconstructions: the ceiling for anything "
            "that draws through this tokenizer.")
