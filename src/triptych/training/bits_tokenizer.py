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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.nets import bits_tokenizer as bt
from triptych.nets.autoencoder import psnr
from triptych.nets.bits_tokenizer import TOKENIZER_CONFIGS, BitsTokenizer
from triptych.nets.checkpoint import weights_path
from triptych.nets.lfq import LFQ
from triptych.training import data
from triptych.training.autoencoder import ae_loss
from triptych.training.common import (
    RUNS_DIR,
    ClockFit,
    JsonLog,
    RunState,
    Timer,
    command_flags,
    count_params,
    load_state,
    lr_at,
    machine_summary,
    md_table,
    progress,
    save_state,
    seed_everything,
    set_threads,
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


def resolve_device(device: str | None) -> torch.device:
    """``None``/"cpu" -> CPU; "cuda" (or "cuda:N") -> that GPU, with a clear error if absent."""
    if not device or device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} asked for, but torch sees no CUDA device")
    return torch.device(device)


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
    out = Path(out) if out else weights_path(NAME)
    run_dir = run_dir or RUNS_DIR / (f"{NAME}-tiny" if tiny else NAME)
    threads = set_threads(threads)
    dev = resolve_device(device)
    gen = seed_everything(seed)
    if decoder_from is not None:
        model = bt.load(decoder_from)  # frozen; only the decoder learns below
        if context_layers is not None:
            model = bt.with_context(model, context_layers)
        model.decoder.requires_grad_(True)
        model.to(dev)
        opt = torch.optim.Adam(model.decoder.parameters(), lr=cfg.lr)
    else:
        base = TOKENIZER_CONFIGS[cfg.size]
        model = BitsTokenizer(replace(base, context_layers=context_layers or 0)).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state_path = run_dir / "state.pt"
    state = RunState()
    if resume and state_path.is_file():
        state = load_state(state_path, model=model, ema=None, opt=opt, gen=gen)
        log(f"resumed {state_path} at step {state.step}")
    jlog = JsonLog(run_dir / "log.jsonl", reset=state.step == 0)
    timer = Timer(state.wall_s)
    last_save = timer.total
    fit = ClockFit(max_minutes, state, timer, log)
    total = fit.planned(cfg.steps)
    stream = data.render_stream(cfg.batch, seed, state.step, workers)
    bar = progress(total, state.step, NAME)
    model.train()
    if decoder_from is not None:
        model.encoder.eval()
    while state.step < total:
        total, stop = fit.check(total)
        bar.total = total
        if stop:
            break
        images = next(stream).to(dev, non_blocking=True)
        for group in opt.param_groups:
            group["lr"] = lr_at(state.step, cfg.lr, cfg.warmup, total)
        if decoder_from is not None:
            with torch.no_grad():
                q, _, stats = model.quantizer(model.encoder(images))
            rec = ae_loss(model.decoder(q), images, cfg.grad_weight)
            loss = rec
        else:
            recon, _, stats = model(images)
            rec = ae_loss(recon, images, cfg.grad_weight)
            loss = rec + stats["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state.step += 1
        bar.update(1)
        if state.step % cfg.log_every == 0:  # the only host syncs of the step
            bar.set_postfix(rec=f"{rec.item():.4f}", H=f"{stats['batch_entropy'].item():.2f}")
            jlog.write(step=state.step, loss=round(loss.item(), 5), rec=round(rec.item(), 5),
                       commit=round(stats["commit"].item(), 5),
                       sample_entropy=round(stats["sample_entropy"].item(), 4),
                       batch_entropy=round(stats["batch_entropy"].item(), 4),
                       wall_s=round(timer.total, 1))
        due = timer.total - last_save > 60 * cfg.checkpoint_minutes
        if state.step % cfg.checkpoint_every == 0 or state.step == total or due:
            state.wall_s = timer.total
            save_state(state_path, model=model, ema=None, opt=opt, gen=gen, state=state)
            last_save = timer.total
    bar.close()
    stream.close()  # stops the render workers before the evaluation renders its own sets
    state.wall_s = timer.total
    if state.step < total:  # stopped by the clock: keep the state so that it can resume
        save_state(state_path, model=model, ema=None, opt=opt, gen=gen, state=state)
    cfg = replace(cfg, steps=total)  # the schedule that ran (--max-minutes may have fitted it)

    metrics = evaluate_tokenizer(model, cfg.eval_n, seed + 2, dev)
    ceiling = None if tiny else judge_ceiling(model, cfg.eval_n, seed + 3, dev, log)
    summary = {"steps": state.step, "wall_s": round(state.wall_s, 1),
               "params": count_params(model), "bits": model.bits, "vocab": model.vocab_size,
               "threads": threads, "device": str(dev), **metrics, "judge_ceiling": ceiling,
               "decoder_from": str(decoder_from) if decoder_from else None,
               # of the encoder as stored (fp16): what a GPT trained on the file will record
               "fingerprint": bt.fingerprint(copy.deepcopy(model).cpu().half().float())}
    model.cpu()
    bt.save(model, out, {"train": summary, "train_config": asdict(cfg), "seed": seed})
    write_tokenizer_card(out.with_suffix(".md"), model, cfg, summary, seed)
    jlog.write(final=summary)
    log(f"saved {out} ({summary})")
    return summary


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
                     f"run state lives in `runs/{NAME}/state.pt`; rerunning the command "
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
