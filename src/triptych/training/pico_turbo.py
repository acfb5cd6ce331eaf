"""Train pico-turbo: distil pico-diffusion into a 1-4 step sampler with no guidance pass.

Recipe (a') of model-recipes.md: the EMA teacher generates (noise, prompt, x0) triples with
CFG; the student starts from the teacher's weights (text encoder included) and is fine-tuned
with the reflow loss, t from a U-shaped distribution (weight near t = 0 and 1, where few-step
sampling needs accuracy). Pair generation is chunked and resumable like training.
"""

from __future__ import annotations

import copy
import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.diffusion.flow import FlowMatching
from triptych.diffusion.pipeline import PicoPipeline
from triptych.diffusion.reflow import reflow_loss, teacher_pairs
from triptych.nets import autoencoder as ae_mod
from triptych.nets.checkpoint import weights_path
from triptych.nets.pico import PicoBundle, PicoModel, SamplingDefaults, load_pico, save_pico
from triptych.training import data, loop
from triptych.training.common import (
    RunState,
    Timer,
    adamw,
    command_flags,
    count_params,
    cpu_copy,
    machine_summary,
    md_table,
    progress,
    save_grid,
    seed_everything,
    to_device,
    with_overrides,
    write_card,
)
from triptych.training.pico_diffusion import trained_steps

NAME = "pico-turbo"


@dataclass(frozen=True)
class TurboTrainConfig:
    pairs: int = 6144  # recipes suggest 10-20k; ~16 min of teacher sampling on one thread
    pair_chunk: int = 256  # teacher batch; also the resume granularity of pair generation
    teacher_steps: int = 20
    guidance: float | None = None  # None: the teacher's own default w
    steps: int = 2000
    batch: int = 64
    lr: float = 1e-4  # fine-tuning from the teacher: recipes' lr 1e-4
    warmup: int = 50
    ema: float = 0.995  # short run: average over the last ~200 steps
    t_dist: str = "u_shaped"  # Lee et al. 2405.20320
    sample_steps: int = 4
    # U-Net levels of the student that keep self+cross attention (None: the start's own). A
    # student without the 8x8 attention ("2") runs a step ~35 % cheaper on ONNX Runtime, what
    # an 8x speed-up over pico-diffusion needs (benchmarks/unet_step_cost.py); distilled on
    # the CPU it lost half its quality (pico-turbo.md): a GPU-sized run is the way
    attention: tuple[int, ...] | None = None
    checkpoint_every: int = 100
    checkpoint_minutes: float = 5.0  # a crash (or a lease's end) never loses more than this
    log_every: int = 25


TINY = TurboTrainConfig(pairs=8, pair_chunk=4, teacher_steps=2, steps=4, batch=4, warmup=2,
                        checkpoint_every=2, log_every=1, sample_steps=2)


def _prompts(n: int, seed: int) -> list[str]:
    from triptych.world.dataset import sample_scenes

    return [c for _, c in sample_scenes(n, seed, "train")]


def generate_pairs(pipe: PicoPipeline, cfg: TurboTrainConfig, seed: int, path: Path,
                   log=print, device: torch.device = torch.device("cpu")) -> dict[str, Any]:
    """Teacher triples, cached in ``path`` and extended chunk by chunk (resumable). The noise
    comes from CPU generators whatever ``device`` runs the teacher."""
    store: dict[str, Any] = {"noise": [], "x0": [], "captions": []}
    if path.is_file():
        store = torch.load(path, weights_only=False)
    captions = _prompts(cfg.pairs, seed + 11)
    guidance = cfg.guidance if cfg.guidance is not None else pipe.bundle.sampling.guidance
    done = sum(len(c) for c in store["noise"])
    bar = progress(cfg.pairs, done, "teacher pairs")
    while done < cfg.pairs:
        k = done // cfg.pair_chunk
        n = min(cfg.pair_chunk, cfg.pairs - done)
        gen = torch.Generator().manual_seed(data.stream_seed(seed + 13, k))
        noise = torch.randn(n, 4, 16, 16, generator=gen)
        prompts = captions[done : done + n]
        x0 = teacher_pairs(pipe, prompts, noise.to(device), steps=cfg.teacher_steps,
                           guidance=guidance).cpu()
        store["noise"].append(noise.half())
        store["x0"].append(x0.half())
        store["captions"].append(prompts)
        done += n
        torch.save(store, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        bar.update(n)
    bar.close()
    return {"noise": torch.cat(store["noise"]).float(), "x0": torch.cat(store["x0"]).float(),
            "captions": [c for chunk in store["captions"] for c in chunk],
            "guidance": guidance}


def _student(base: PicoModel, attention: tuple[int, ...] | None) -> PicoModel:
    """A copy of ``base``; with ``attention``, the U-Net keeps only those levels' attention
    blocks (every remaining weight is ``base``'s: the dropped blocks were residual, so the
    student starts close and reflow closes the rest)."""
    if attention is None or tuple(attention) == tuple(base.cfg.attn_levels):
        return copy.deepcopy(base)
    student = PicoModel(replace(base.cfg, attn_levels=tuple(attention)))
    missing, _dropped = student.load_state_dict(base.state_dict(), strict=False)
    assert not missing, missing  # a subset of the blocks: nothing new to initialise
    return student


def train_pico_turbo(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    teacher_path: Path | None = None,
    ae_path: Path | None = None,
    pairs: int | None = None,
    threads: int | None = None,
    batch: int | None = None,
    lr: float | None = None,
    device: str | None = "cpu",
    max_minutes: float | None = None,
    overrides: dict[str, Any] | None = None,
    init: Path | None = None,
    attention: tuple[int, ...] | None = None,
    log=print,
) -> dict[str, Any]:
    """``init``: the student starts from this pico-turbo (continue a shipped one; it must share
    the teacher's vocabulary) instead of the teacher's weights. ``device``: "cuda" generates
    the teacher pairs and trains on a GPU (random draws stay on CPU generators).
    ``max_minutes``: the whole call, teacher pairs included; the fine-tuning schedule is
    fitted to what is left (``ClockFit``). ``overrides``: any other ``TurboTrainConfig``
    field (a GPU run's pair chunk and checkpoint cadence). ``attention``: the student's
    attention levels, a subset of its start's (the others' blocks are dropped, every other
    weight carried over)."""
    cfg = with_overrides(TINY if tiny else TurboTrainConfig(), overrides, steps=steps,
                         pairs=pairs, batch=batch, lr=lr,
                         attention=tuple(attention) if attention is not None else None)
    paths = loop.prepare(NAME, NAME, out=out, run_dir=run_dir, tiny=tiny, threads=threads,
                         device=device)
    out, run_dir, dev = paths.out, paths.run_dir, paths.device
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)

    teacher_path = Path(teacher_path) if teacher_path else weights_path("pico-diffusion")
    if ae_path is None and (teacher_path.parent / "autoencoder.safetensors").is_file():
        ae_path = teacher_path.parent / "autoencoder.safetensors"  # the teacher's own AE
    ae = ae_mod.load(ae_path or weights_path(ae_mod.CHECKPOINT_NAME))
    teacher = load_pico(teacher_path)
    start = load_pico(init) if init else None  # checked before minutes of teacher sampling
    if start is not None and start.tokenizer.vocab != teacher.tokenizer.vocab:
        raise ValueError(f"--init {init}: its vocabulary is not the teacher's ({teacher_path})")
    base = (start or teacher).model
    if cfg.attention is not None and not set(cfg.attention) <= set(base.cfg.attn_levels):
        raise ValueError(f"--student-attention {','.join(map(str, cfg.attention))}: the "
                         f"student starts from a U-Net with attention at levels "
                         f"{','.join(map(str, base.cfg.attn_levels))} only")
    teacher.model.to(dev)
    pipe = PicoPipeline(teacher, ae)
    timer0 = Timer()
    if not resume:
        (run_dir / "pairs.pt").unlink(missing_ok=True)
    pairs_data = generate_pairs(pipe, cfg, seed, run_dir / "pairs.pt", log=log, device=dev)
    pair_wall = timer0.total
    tokenizer = teacher.tokenizer
    ids = tokenizer(pairs_data["captions"]).to(dev)  # [N, L]
    noise_all, x0_all = pairs_data["noise"].to(dev), pairs_data["x0"].to(dev)  # [N,4,16,16]

    student = _student(base, cfg.attention).to(dev).train().requires_grad_(True)
    opt = adamw(student.parameters(), dev, lr=cfg.lr, weight_decay=0.0)
    flow = FlowMatching(cfg.t_dist)
    sampling = SamplingDefaults(steps=cfg.sample_steps, guidance=None, shift=1.0)
    order = loop.BatchOrder(len(x0_all), min(cfg.batch, len(x0_all)), seed)

    def loss(step: int, gen: torch.Generator) -> torch.Tensor:
        idx = order(step)
        t = flow.sample_t(len(idx), gen)  # [B]
        idx, t = to_device(dev, idx, t)
        return reflow_loss(student, flow, x0_all[idx], noise_all[idx], ids[idx], t=t)

    def export(net: torch.nn.Module, state: RunState) -> None:
        save_pico(run_dir / f"{NAME}.safetensors", net, student.cfg, tokenizer, sampling,
                  {"train": {"steps": state.step}})

    left = None if max_minutes is None else max(0.1, max_minutes - pair_wall / 60)
    outcome = loop.train(loop.Job(NAME, student, opt, loss, seed=seed, export=export),
                         loop.Schedule.of(cfg, max_minutes=left), run_dir=run_dir,
                         resume=resume, extra={"pair_wall_s": round(pair_wall, 1)}, log=log)
    state = outcome.state
    cfg = replace(cfg, steps=outcome.total)  # the schedule that ran (a fitted --max-minutes)
    ema_model = cpu_copy(outcome.weights)

    summary = {
        "steps": state.step, "wall_s": round(state.wall_s, 1),
        "pair_wall_s": state.extra.get("pair_wall_s", round(pair_wall, 1)),
        "pairs": len(x0_all), "teacher_steps": cfg.teacher_steps,
        "teacher_guidance": pairs_data["guidance"], "params": count_params(student),
        "threads": paths.threads, "final_loss": outcome.last.get("loss"),
        "teacher": teacher_path.name, "device": str(dev),
        "init": str(init) if init else None, "init_steps": trained_steps(start),
    }
    save_pico(out, ema_model, student.cfg, tokenizer, sampling,
              {"train": summary, "train_config": asdict(cfg), "seed": seed})
    if not tiny:
        save_grid(PicoPipeline(PicoBundle(ema_model, tokenizer, sampling), ae),
                  run_dir / "preview.png")
    write_turbo_card(out.with_suffix(".md"), cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary


def write_turbo_card(path: Path, cfg: TurboTrainConfig, summary: dict, seed: int,
                     metrics: str | None = None) -> None:
    device = summary.get("device", "cpu")
    command = f"triptych train {NAME} --seed {seed} --steps {cfg.steps} --pairs {cfg.pairs}" + \
        command_flags(cfg, TurboTrainConfig(), {"batch": "--batch", "lr": "--lr"}, device) + (
            " --init <the previous pico-turbo>" if summary.get("init") else "") + (
            f" --student-attention {','.join(map(str, cfg.attention)) or 'none'}"
            if cfg.attention is not None else "")
    machine = machine_summary(summary.get("threads")) + (
        f", {device}" if device != "cpu" else "")
    write_card(path, f"{NAME} (pico-diffusion distilled to 1-4 steps, no CFG pass)", {
        "Architecture": (
            "Identical to pico-diffusion (same U-Net, text encoder and vocabulary; see "
            f"pico-diffusion.md), initialised from its EMA weights. Parameters: "
            f"{summary['params']:,}. Stored as fp16 safetensors." if cfg.attention is None else
            "pico-diffusion's U-Net, text encoder and vocabulary with self+cross attention "
            f"only at U-Net level(s) {', '.join(map(str, cfg.attention))} (level 0 = 16x16, "
            "1 = 8x8, 2 = 4x4; the middle block keeps its own), every remaining weight carried "
            f"over from its start. Parameters: {summary['params']:,}. Stored as fp16 "
            "safetensors."),
        "Distillation": (
            f"Reflow with guidance baked in: the teacher ({summary['teacher']}) generated "
            f"{summary['pairs']:,} (noise, prompt, latent) triples with {cfg.teacher_steps} Euler "
            f"steps and CFG w = {summary['teacher_guidance']} from train-split world captions "
            f"(held-out compositions never used). The student regresses v = z - x0 on the "
            f"straight line between each pair, t ~ {cfg.t_dist}. Samples with "
            f"{cfg.sample_steps} Euler steps (1-8 allowed) and a single conditional pass."
            + (f" The student continued an earlier pico-turbo (`{summary['init']}`, "
               f"{summary.get('init_steps')} earlier steps) rather than starting from the "
               "teacher's weights." if summary.get("init") else "")),
        "Training": md_table({
            "steps": summary["steps"], "batch": cfg.batch,
            "optimiser": f"AdamW lr {cfg.lr}, {cfg.warmup} warm-up, cosine to 10 %, clip 1.0",
            "EMA": cfg.ema, "seed": seed,
            "pair generation wall time": f"{summary['pair_wall_s'] / 60:.1f} min",
            "fine-tuning wall time": f"{summary['wall_s'] / 60:.1f} min ({machine})",
            "final training loss": summary.get("final_loss"),
        }),
        "Metrics": metrics or "Not measured by the trainer; see docs/builtin-models.md.",
        "Reproduce": f"```\n{command}\n```\n\nNeeds `pico-diffusion.safetensors` (the "
                     f"teacher). Resumable: teacher pairs and run state live in `runs/{NAME}/`.",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })
