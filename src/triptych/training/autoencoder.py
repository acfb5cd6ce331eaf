"""Train the shared f=4 autoencoder on an endless seeded stream of world renders.

Loss: L1 + MSE + an image-gradient L1 term (keeps letter edges sharp; LPIPS is unavailable
offline). Adam, linear warm-up then cosine. After training: per-channel latent statistics
(for diffusion normalisation), reconstruction PSNR on held-out renders, checkpoint and card.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from triptych.nets import autoencoder as ae_mod
from triptych.nets.autoencoder import AE_CONFIGS, Autoencoder
from triptych.training import data, loop
from triptych.training.common import (
    count_params,
    machine_summary,
    md_table,
    seed_everything,
    write_card,
)


@dataclass(frozen=True)
class AETrainConfig:
    size: str = "base"  # key of AE_CONFIGS
    steps: int = 2500  # recipes: ~2k steps suffice for this flat-colour world
    batch: int = 32  # B=32 halves the step cost (~0.45 s on 2 cores); the stream never repeats
    lr: float = 1e-3
    warmup: int = 100
    grad_weight: float = 0.5  # edge loss weight: text legibility
    checkpoint_every: int = 250
    log_every: int = 25
    eval_n: int = 512  # held-out renders per split for PSNR
    stats_n: int = 4096  # renders for latent mean/std


TINY = AETrainConfig(size="tiny", steps=4, batch=4, warmup=2, checkpoint_every=2, log_every=1,
                     eval_n=8, stats_n=16)

# Decoder-only fine-tuning: the encoder (and so the latent space and its statistics) stays
# frozen, so it can run while diffusion models train on cached latents, and it puts half of
# every batch on word scenes, whose thin strokes are what a short joint run leaves blurry.
DECODER_KINDS = {"text": 0.5, "single": 0.1, "pair": 0.15, "count": 0.15, "shapes": 0.1}
DECODER_LR = 5e-4
DECODER_GRAD_WEIGHT = 1.0


def _grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def ae_loss(recon: torch.Tensor, x: torch.Tensor, grad_weight: float) -> torch.Tensor:
    loss = F.l1_loss(recon, x) + F.mse_loss(recon, x)
    (rx, ry), (xx, xy) = _grad(recon), _grad(x)
    return loss + grad_weight * (F.l1_loss(rx, xx) + F.l1_loss(ry, xy))


@torch.no_grad()
def evaluate_psnr(model: Autoencoder, n: int, seed: int) -> dict[str, float]:
    """Mean PSNR (dB) of decode(encode(x)) on fresh renders, overall / per split / text only."""
    model.eval()
    out: dict[str, float] = {}
    text_scores = []
    for split in ("train", "heldout"):
        images, _, scenes = data.render(n, seed, split)
        scores = torch.cat([ae_mod.psnr(model.decode(model.encode(images[i : i + 256])),
                                        images[i : i + 256]) for i in range(0, n, 256)])
        out[f"psnr_{split}"] = round(float(scores.mean()), 2)
        text_scores += [float(s) for s, sc in zip(scores, scenes, strict=True)
                        if sc.kind == "text"]
    out["psnr"] = round((out["psnr_train"] + out["psnr_heldout"]) / 2, 2)
    if text_scores:
        out["psnr_text_scenes"] = round(sum(text_scores) / len(text_scores), 2)
    return out


@torch.no_grad()
def latent_stats(model: Autoencoder, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, _, _ = data.render(n, seed, "train")
    z = torch.cat([model.encode(images[i : i + 256]) for i in range(0, n, 256)])  # [N,4,16,16]
    return z.mean(dim=(0, 2, 3)), z.std(dim=(0, 2, 3))


def train_autoencoder(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    threads: int | None = None,
    decoder_steps: int = 0,
    log=print,
) -> dict[str, Any]:
    cfg = TINY if tiny else AETrainConfig()
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    paths = loop.prepare("autoencoder", ae_mod.CHECKPOINT_NAME, out=out, run_dir=run_dir,
                         tiny=tiny, threads=threads)
    seed_everything(seed)
    model = Autoencoder(AE_CONFIGS[cfg.size]).train()

    def loss(step: int, _gen: torch.Generator) -> torch.Tensor:
        images, _, _ = data.render(cfg.batch, data.stream_seed(seed, step))
        return ae_loss(model(images), images, cfg.grad_weight)

    outcome = loop.train(loop.Job("autoencoder", model, torch.optim.Adam(model.parameters(),
                                                                         lr=cfg.lr),
                                  loss, seed=seed),
                         loop.Schedule.of(cfg), run_dir=paths.run_dir, resume=resume, log=log)
    model.eval()
    mean, std = latent_stats(model, cfg.stats_n, seed + 1)
    model.latent_mean.copy_(mean)
    model.latent_std.copy_(std)
    decoder = {}
    if decoder_steps:
        decoder = finetune_decoder(model, steps=decoder_steps, seed=seed, run_dir=paths.run_dir,
                                   batch=cfg.batch, resume=resume, log=log)
    metrics = evaluate_psnr(model, cfg.eval_n, seed + 2)
    summary = {
        "steps": outcome.state.step, "wall_s": round(outcome.state.wall_s, 1),
        "params": count_params(model), "threads": paths.threads, **decoder, **metrics,
        "latent_mean": [round(float(v), 4) for v in mean],
        "latent_std": [round(float(v), 4) for v in std],
    }
    ae_mod.save(model, paths.out, {"train": summary, "train_config": asdict(cfg), "seed": seed})
    write_ae_card(paths.out.with_suffix(".md"), model, cfg, summary, seed)
    outcome.record(summary, paths.out, log)
    return summary


def finetune_decoder(model: Autoencoder, *, steps: int, seed: int, run_dir: Path, batch: int,
                     resume: bool = True, log=print) -> dict[str, Any]:
    """Fine-tune only the decoder on text-heavy batches (encoder frozen); resumable (its
    state and log are ``decoder_``-prefixed in ``run_dir``)."""
    model.encoder.requires_grad_(False)
    model.decoder.train()

    def loss(step: int, _gen: torch.Generator) -> torch.Tensor:
        images = data.render_kinds(batch, data.stream_seed(seed + 5, step), DECODER_KINDS)
        with torch.no_grad():
            z = model.encode(images)
        return ae_loss(model.decoder(z), images, DECODER_GRAD_WEIGHT)

    opt = torch.optim.Adam(model.decoder.parameters(), lr=DECODER_LR)
    outcome = loop.train(
        loop.Job("decoder fine-tune", model.decoder, opt, loss, seed=seed + 5,
                 prefix="decoder_"),
        loop.Schedule(steps=steps, lr=DECODER_LR, warmup=50, checkpoint_every=100),
        run_dir=run_dir, resume=resume, log=log)
    model.eval().requires_grad_(False)
    return {"decoder_steps": outcome.state.step,
            "decoder_wall_s": round(outcome.state.wall_s, 1)}


def write_ae_card(path: Path, model: Autoencoder, cfg: AETrainConfig, summary: dict,
                  seed: int) -> None:
    c = model.cfg
    tiny = " --tiny" if cfg.size == "tiny" else ""
    dec = summary.get("decoder_steps")
    dec_flag = f" --decoder-steps {dec}" if dec else ""
    command = f"triptych train autoencoder --seed {seed} --steps {cfg.steps}{dec_flag}{tiny}"
    machine = machine_summary(summary.get("threads"))
    write_card(path, "autoencoder (shared f=4 latent autoencoder)", {
        "Architecture": (
            f"TAESD-like plain conv autoencoder, 64x64x3 <-> 16x16x4 (f=4, z=4). Encoder: "
            f"PixelUnshuffle(2) stem -> conv {c.ch} -> {c.blocks_hi} ReLU ResBlock(s) at 32x32 "
            f"-> stride-2 conv {c.ch_low} -> {c.blocks_low} ResBlocks at 16x16 -> conv 4, "
            f"latent clamp 3*tanh(z/3). Decoder mirrors it, ending in PixelShuffle(2) and a "
            f"thin {c.out_refine_ch}-channel full-resolution conv. Per-channel latent "
            f"mean/std are stored as buffers; diffusion models use `normalize()`d latents.\n\n"
            f"Parameters: {summary['params']:,}. Stored as fp16 safetensors."),
        "Data": (
            "An endless seeded stream of procedural world renders (`triptych.world`, train "
            f"split), batch {cfg.batch}: batch k = `render_batch({cfg.batch}, "
            "seed=stream_seed(seed, k))`. No image is seen twice."),
        "Training": md_table({
            "steps": summary["steps"], "batch": cfg.batch, "optimiser": f"Adam lr {cfg.lr}, "
            f"{cfg.warmup} warm-up steps, cosine to 10 %", "loss": "L1 + MSE + "
            f"{cfg.grad_weight} x image-gradient L1", "seed": seed,
            "wall time": f"{summary['wall_s'] / 60:.1f} min ({machine})",
            "decoder-only fine-tuning": (
                f"{dec} steps, text-heavy batches {DECODER_KINDS}, Adam lr {DECODER_LR}, "
                f"grad-loss weight {DECODER_GRAD_WEIGHT}, encoder frozen, "
                f"{summary.get('decoder_wall_s', 0) / 60:.1f} min") if dec else "none",
        }),
        "Metrics": md_table({
            "PSNR, held-out renders (train-split scenes, unseen seeds)":
                f"{summary.get('psnr_train')} dB",
            "PSNR, held-out compositions split": f"{summary.get('psnr_heldout')} dB",
            "PSNR, text scenes only": f"{summary.get('psnr_text_scenes')} dB",
            "latent mean / std (per channel)":
                f"{summary['latent_mean']} / {summary['latent_std']}",
        }) + f"\n\nPSNR measured on {cfg.eval_n} fresh renders per split (seed {seed + 2}).",
        "Reproduce": f"```\n{command}\n```\n\nResumable: the run state lives in "
                     "`runs/autoencoder/`; rerunning the command continues it "
                     "(`--no-resume` starts over).",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })
