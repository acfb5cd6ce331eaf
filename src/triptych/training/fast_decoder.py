"""Distil the shipped autoencoder's decoder into ``nets/fast_decoder.FastDecoder``.

The student learns the teacher decoder's images, not the renders: it should draw exactly what
the models' latents already draw through the shipped decoder, only cheaper. Inputs are the
teacher encoder's latents of text-heavy world renders (a seeded pool, rebuilt identically on
resume) plus Gaussian noise of a random scale up to ``noise`` latent standard deviations, so
the student also matches the teacher off the encoder's manifold, where a generator's
imperfect latents land. Loss: the autoencoder's (L1 + MSE + image-gradient L1). Adam, warm-up
then cosine.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.nets import autoencoder as ae_mod
from triptych.nets import fast_decoder as fd_mod
from triptych.nets.autoencoder import Autoencoder
from triptych.nets.checkpoint import file_digest, weights_path
from triptych.nets.fast_decoder import FAST_DECODER_CONFIGS, FastDecoder
from triptych.training import data, loop
from triptych.training.autoencoder import DECODER_KINDS, ae_loss
from triptych.training.common import (
    count_params,
    machine_summary,
    md_table,
    seed_everything,
    write_card,
)


@dataclass(frozen=True)
class FastDecoderTrainConfig:
    size: str = "base"  # key of FAST_DECODER_CONFIGS
    steps: int = 1500
    batch: int = 64
    lr: float = 2e-3
    warmup: int = 50
    pool: int = 8192  # teacher latents of renders, ~5 ms each to make
    noise: float = 0.3  # largest added latent noise, in latent standard deviations
    grad_weight: float = 1.0
    checkpoint_every: int = 100
    log_every: int = 25
    eval_n: int = 256  # held-out renders per split


TINY = FastDecoderTrainConfig(size="tiny", steps=4, batch=4, warmup=2, pool=16,
                              checkpoint_every=2, log_every=1, eval_n=8)


@torch.no_grad()
def latent_pool(teacher: Autoencoder, n: int, seed: int, chunk: int = 256) -> torch.Tensor:
    """The teacher's raw latents [n,4,16,16] of ``n`` text-heavy train-split renders."""
    parts = []
    for k, start in enumerate(range(0, n, chunk)):
        images = data.render_kinds(min(chunk, n - start), data.stream_seed(seed, k),
                                   DECODER_KINDS)
        parts.append(teacher.encode(images))
    return torch.cat(parts)


@torch.no_grad()
def evaluate(student: FastDecoder, teacher: Autoencoder, n: int, seed: int) -> dict[str, float]:
    """Mean PSNR (dB) on fresh renders' latents: the student against the teacher decoder (how
    exactly it stands in), and both against the renders."""
    out: dict[str, float] = {}
    text_vs_teacher = []
    for split in ("train", "heldout"):
        images, _, scenes = data.render(n, seed, split)
        z = teacher.encode(images)
        mine, theirs = student.decode(z), teacher.decode(z)
        vs_teacher = ae_mod.psnr(mine, theirs)
        out[f"psnr_vs_teacher_{split}"] = round(float(vs_teacher.mean()), 2)
        out[f"psnr_vs_render_{split}"] = round(float(ae_mod.psnr(mine, images).mean()), 2)
        out[f"teacher_psnr_vs_render_{split}"] = round(
            float(ae_mod.psnr(theirs, images).mean()), 2)
        text_vs_teacher += [float(s) for s, sc in zip(vs_teacher, scenes, strict=True)
                            if sc.kind == "text"]
    if text_vs_teacher:
        out["psnr_vs_teacher_text_scenes"] = round(sum(text_vs_teacher) / len(text_vs_teacher),
                                                   2)
    return out


def train_fast_decoder(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    ae_path: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    threads: int | None = None,
    log=print,
) -> dict[str, Any]:
    cfg = TINY if tiny else FastDecoderTrainConfig()
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    ae_path = Path(ae_path) if ae_path else weights_path(ae_mod.CHECKPOINT_NAME)
    paths = loop.prepare("fast-decoder", fd_mod.CHECKPOINT_NAME, out=out, run_dir=run_dir,
                         tiny=tiny, threads=threads)
    out = paths.out
    seed_everything(seed)
    teacher = ae_mod.load(ae_path)
    student = FastDecoder.for_autoencoder(teacher, FAST_DECODER_CONFIGS[cfg.size]).train()
    pool = latent_pool(teacher, cfg.pool, seed)  # the same pool on every resume
    std = teacher.latent_std.view(1, -1, 1, 1)

    def loss(_step: int, gen: torch.Generator) -> torch.Tensor:
        z = pool[torch.randint(0, len(pool), (cfg.batch,), generator=gen)]
        scale = cfg.noise * torch.rand(cfg.batch, 1, 1, 1, generator=gen)
        z = z + scale * std * torch.randn(z.shape, generator=gen)
        with torch.no_grad():
            target = teacher.decode(z)
        return ae_loss(student.decoder(z), target, cfg.grad_weight)

    opt = torch.optim.Adam(student.decoder.parameters(), lr=cfg.lr)
    outcome = loop.train(loop.Job("fast decoder", student, opt, loss, seed=seed),
                         loop.Schedule.of(cfg), run_dir=paths.run_dir, resume=resume, log=log)
    state = outcome.state
    student.eval().requires_grad_(False)
    metrics = evaluate(student, teacher, cfg.eval_n, seed + 2)
    summary = {"steps": state.step, "wall_s": round(state.wall_s, 1),
               "params": count_params(student), "threads": paths.threads,
               "autoencoder": file_digest(ae_path), **metrics}
    fd_mod.save(student, out, {"train": summary, "train_config": asdict(cfg), "seed": seed})
    write_fast_decoder_card(out.with_suffix(".md"), student, cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary


def write_fast_decoder_card(path: Path, model: FastDecoder, cfg: FastDecoderTrainConfig,
                            summary: dict, seed: int) -> None:
    c = model.cfg
    tiny = " --tiny" if cfg.size == "tiny" else ""
    command = f"triptych train fast-decoder --seed {seed} --steps {cfg.steps}{tiny}"
    machine = machine_summary(summary.get("threads"))
    write_card(path, "fast-decoder (distilled decoder of the shared autoencoder)", {
        "Architecture": (
            f"The shared autoencoder's decoder layout (`nets/autoencoder.Decoder`) made "
            f"cheaper: conv 4 -> {c.ch_low} at 16x16, {c.blocks_low} ReLU ResBlock(s) there, "
            f"nearest upsample, conv {c.ch} at 32x32, {c.blocks_hi} ResBlock(s), conv "
            f"{4 * c.out_refine_ch}, PixelShuffle(2), a {c.out_refine_ch}-channel full-"
            f"resolution conv to RGB. It reads the autoencoder's latent space (its latent "
            f"statistics are copied in; the loader refuses another autoencoder's). "
            f"pico-turbo decodes with it.\n\nParameters: {summary['params']:,}. Stored as "
            f"fp16 safetensors."),
        "Data": (
            f"A seeded pool of {cfg.pool:,} latents: the autoencoder "
            f"(`{summary['autoencoder']}`) encoding text-heavy train-split world renders "
            f"(layout weights {DECODER_KINDS}), each batch with Gaussian noise of a random "
            f"scale up to {cfg.noise} latent standard deviations added. Targets: the "
            f"autoencoder's own decoder on the same latents (distillation, not "
            f"reconstruction)."),
        "Training": md_table({
            "steps": summary["steps"], "batch": cfg.batch,
            "optimiser": f"Adam lr {cfg.lr}, {cfg.warmup} warm-up steps, cosine to 10 %",
            "loss": f"L1 + MSE + {cfg.grad_weight} x image-gradient L1 against the teacher",
            "seed": seed, "wall time": f"{summary['wall_s'] / 60:.1f} min ({machine})",
        }),
        "Metrics": md_table({
            "PSNR against the shipped decoder, held-out renders (train split)":
                f"{summary.get('psnr_vs_teacher_train')} dB",
            "PSNR against the shipped decoder, held-out compositions split":
                f"{summary.get('psnr_vs_teacher_heldout')} dB",
            "PSNR against the shipped decoder, text scenes":
                f"{summary.get('psnr_vs_teacher_text_scenes')} dB",
            "PSNR against the renders (train / held-out split)":
                f"{summary.get('psnr_vs_render_train')} / "
                f"{summary.get('psnr_vs_render_heldout')} dB",
            "the shipped decoder's PSNR against the renders (train / held-out split)":
                f"{summary.get('teacher_psnr_vs_render_train')} / "
                f"{summary.get('teacher_psnr_vs_render_heldout')} dB",
        }) + f"\n\nMeasured on {cfg.eval_n} fresh renders per split (seed {seed + 2}).",
        "Reproduce": f"```\n{command}\n```\n\nNeeds `autoencoder.safetensors` (the teacher). "
                     "Resumable: the run state lives in `runs/fast-decoder/`; "
                     "rerunning the command continues it (`--no-resume` starts over).",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })
