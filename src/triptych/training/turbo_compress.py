"""Compress a trained pico-turbo into a cheaper student U-Net with the same 1-4 step sampler.

At batch 1 on a CPU a U-Net step costs mostly per-operator overhead, and the attention blocks
are most of the operators (``benchmarks/unet_step_cost.py``). A student that drops some
blocks, or keeps only their cross-attention to the text, runs a step for less. Reflowing such a
student on pico-diffusion pairs from scratch needs GPU-sized data (a CPU run of it lost half
the quality, pico-turbo.md); here the shipped few-step student is the teacher instead:

- every batch is fresh: world captions and noise drawn from a seeded stream (no cached pairs,
  nothing to overfit), the teacher's 4- or 2-step Euler trajectory from that noise;
- the student regresses the teacher's velocity at the teacher's states *and* at the states of
  its own trajectory from the same noise (on-policy, DAgger-style: it learns to steer back
  when its own earlier steps drifted, which is what sampling with it meets);
- the student starts from the teacher's weights (the blocks it keeps are the teacher's), so it
  starts close and the loss only has to close the gap the dropped branches left.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.diffusion.flow import timesteps
from triptych.diffusion.sampler import reuse_plan
from triptych.nets.checkpoint import weights_path
from triptych.nets.pico import PicoModel, load_pico, save_pico
from triptych.nets.unet import ATTN_PARTS
from triptych.training import data, loop
from triptych.training.common import (
    RunState,
    adamw,
    command_flags,
    count_params,
    cpu_copy,
    machine_summary,
    md_table,
    seed_everything,
    with_overrides,
    write_card,
)

NAME = "pico-turbo"


@dataclass(frozen=True)
class CompressConfig:
    steps: int = 1100
    batch: int = 32  # trajectories per step: 4 teacher + 4 student states each
    lr: float = 2e-4
    warmup: int = 50
    ema: float = 0.995
    four_step_share: float = 0.75  # the rest are 2-step trajectories (the 2-step preview)
    # the student's U-Net: attention levels kept (None: the teacher's) and the levels whose
    # blocks keep only ``lite_parts`` of self-attention / cross-attention / MLP
    attention: tuple[int, ...] | None = None
    lite: tuple[int, ...] = ()
    lite_parts: tuple[str, ...] = ("cross",)
    # weight of the end-of-trajectory match (0: velocities only; it costs a backward pass
    # through the student's whole unrolled trajectory)
    endpoint: float = 0.0
    # the student samples with DeepCache (``SamplingDefaults.reuse_deep``) and is trained the
    # way it samples: its reusing steps see the deep feature of its own previous full step
    reuse_deep: int = 0
    # > 0: the student samples with this many steps (a divisor of 4) and each of its steps is
    # trained to land where the teacher's 4-step trajectory lands after 4 / student_steps
    # steps (progressive distillation, Salimans & Ho 2022)
    student_steps: int = 0
    checkpoint_every: int = 100
    checkpoint_minutes: float = 5.0
    log_every: int = 25


TINY = CompressConfig(steps=4, batch=2, warmup=2, checkpoint_every=2, log_every=1)


def student_from(base: PicoModel, attention: tuple[int, ...] | None, lite: tuple[int, ...],
                 lite_parts: tuple[str, ...]) -> PicoModel:
    """A student U-Net with every weight it keeps copied from ``base``; ValueError when it
    asks for blocks ``base`` does not have (there would be nothing to copy)."""
    cfg = base.cfg
    levels = tuple(cfg.attn_levels) if attention is None else tuple(attention)
    if not set(levels) <= set(cfg.attn_levels):
        raise ValueError(f"--student-attention {','.join(map(str, levels)) or 'none'}: the "
                         f"teacher has attention at levels "
                         f"{','.join(map(str, cfg.attn_levels))} only")
    if not set(lite) <= set(levels):
        raise ValueError(f"--student-lite {','.join(map(str, lite))}: lite blocks must be at "
                         f"levels the student keeps attention at "
                         f"({','.join(map(str, levels)) or 'none'})")
    if not lite_parts or not set(lite_parts) <= set(ATTN_PARTS):
        raise ValueError(f"--student-lite-parts: a subset of {','.join(ATTN_PARTS)}, got "
                         f"{','.join(lite_parts)}")
    student = PicoModel(replace(cfg, attn_levels=levels, lite_levels=tuple(lite),
                                lite_parts=tuple(lite_parts)))
    missing, _dropped = student.load_state_dict(base.state_dict(), strict=False)
    if missing:  # a lite block of a lite teacher asked for a branch the teacher lacks
        raise ValueError(f"the student needs weights the teacher lacks: {missing[:3]}")
    return student


def trajectory(model: PicoModel, noise: torch.Tensor, context: tuple[torch.Tensor, ...],
               grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The states an Euler sampler on ``grid`` visits from ``noise`` (the end excluded), their
    times, and where it ends: ([S*B,4,16,16], [S*B], [B,4,16,16]) with S = len(grid) - 1,
    step-major. Differentiable when called with grad enabled."""
    states, times = [], []
    x = noise
    for i in range(len(grid) - 1):
        t = grid[i].expand(len(noise))
        states.append(x)
        times.append(t)
        x = x + (grid[i + 1] - grid[i]) * model(x, t, context=context)
    return torch.cat(states), torch.cat(times), x


def compress_loss(student: PicoModel, teacher: PicoModel, ids: torch.Tensor,
                  noise: torch.Tensor, grid: torch.Tensor, endpoint: float = 0.0
                  ) -> torch.Tensor:
    """MSE between the student's and the teacher's velocity at the states of both
    trajectories from ``noise`` (the teacher's and the student's own); with ``endpoint`` > 0,
    plus that weight times the MSE between where the two trajectories end, backpropagated
    through the student's whole unrolled trajectory (what sampling with it returns)."""
    reps = 2 * (len(grid) - 1)
    with torch.no_grad():
        ctx_t = teacher.encode_text(ids)
        x_t, t_t, end_t = trajectory(teacher, noise, ctx_t, grid)
    if endpoint > 0:
        x_s, t_s, end_s = trajectory(student, noise, student.encode_text(ids), grid)
        x_s = x_s.detach()
        end_loss = endpoint * (end_s - end_t).pow(2).mean()
    else:
        with torch.no_grad():
            x_s, t_s, _ = trajectory(student, noise, student.encode_text(ids), grid)
        end_loss = 0.0
    with torch.no_grad():
        xs, ts = torch.cat([x_t, x_s]), torch.cat([t_t, t_s])
        target = teacher(xs, ts, context=tuple(c.repeat(reps, *[1] * (c.dim() - 1))
                                               for c in ctx_t))
    return (student(xs, ts, ids.repeat(reps, 1)) - target).pow(2).mean() + end_loss


def halving_loss(student: PicoModel, teacher: PicoModel, ids: torch.Tensor,
                 noise: torch.Tensor, grid: torch.Tensor, student_steps: int,
                 endpoint: float = 0.0) -> torch.Tensor:
    """Progressive distillation: the student's Euler steps on every ``k``-th point of the
    teacher's ``grid`` (k = teacher steps / ``student_steps``) regress the average velocity of
    the teacher's ``k`` steps over the same interval, from the teacher's own states and
    (on-policy) from the states the student's coarse trajectory reaches itself. With
    ``endpoint`` > 0, plus that weight times the MSE between where the student's coarse
    trajectory and the teacher's end, backpropagated through the student's steps."""
    k = (len(grid) - 1) // student_steps
    coarse = grid[::k]
    ctx_s = student.encode_text(ids)  # once, with grad: every student call below reuses it
    with torch.no_grad():
        ctx_t = teacher.encode_text(ids)
        fine, _, end = trajectory(teacher, noise, ctx_t, grid)
        fine = torch.cat([fine, end]).unflatten(0, (len(grid), len(noise)))
        starts, times, targets = [], [], []
        x = noise
        for j in range(student_steps):
            t0, t1 = coarse[j], coarse[j + 1]
            tt = t0.expand(len(noise))
            # the teacher's own state at t0 (for j = 0 that is the noise, the student's too)
            own = fine[j * k]
            starts.append(own)
            times.append(tt)
            targets.append((fine[(j + 1) * k] - own) / (t1 - t0))
            if j > 0:  # on-policy: where the student's coarse steps took it
                _, _, land = trajectory(teacher, x, ctx_t, grid[j * k:(j + 1) * k + 1])
                starts.append(x)
                times.append(tt)
                targets.append((land - x) / (t1 - t0))
            x = x + (t1 - t0) * student(x, tt, context=ctx_s)
        xs, ts, target = torch.cat(starts), torch.cat(times), torch.cat(targets)
    reps = len(xs) // len(noise)
    ctx = tuple(c.repeat(reps, *[1] * (c.dim() - 1)) for c in ctx_s)
    loss = (student(xs, ts, context=ctx) - target).pow(2).mean()
    if endpoint > 0:
        _, _, land = trajectory(student, noise, ctx_s, coarse)
        loss = loss + endpoint * (land - fine[-1]).pow(2).mean()
    return loss


def cached_loss(student: PicoModel, teacher: PicoModel, ids: torch.Tensor,
                noise: torch.Tensor, grid: torch.Tensor, reuse_deep: int) -> torch.Tensor:
    """MSE between the student's and the teacher's velocity along the student's own
    trajectory, sampled as the student samples: the steps ``reuse_plan`` marks run
    ``shallow`` on the deep feature of the student's previous full step (the gradient reaches
    that step through the feature: the deep path learns to serve the next step too)."""
    plan = reuse_plan(len(grid) - 1, reuse_deep)
    ctx_s = student.encode_text(ids)
    with torch.no_grad():
        ctx_t = teacher.encode_text(ids)
    x, deep, losses = noise, None, []
    for i in range(len(grid) - 1):
        t = grid[i].expand(len(noise))
        if plan[i] and deep is not None:
            v = student.shallow(x, t, deep, context=ctx_s)
        else:
            v, deep = student.keep(x, t, context=ctx_s)
        with torch.no_grad():
            target = teacher(x, t, context=ctx_t)
        losses.append((v - target).pow(2).mean())
        x = (x + (grid[i + 1] - grid[i]) * v).detach()  # on-policy states
    return torch.stack(losses).mean()


def compress_turbo(
    *,
    teacher_path: Path | None = None,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    threads: int | None = None,
    batch: int | None = None,
    lr: float | None = None,
    max_minutes: float | None = None,
    attention: tuple[int, ...] | None = None,
    lite: tuple[int, ...] | None = None,
    lite_parts: tuple[str, ...] | None = None,
    endpoint: float | None = None,
    reuse_deep: int | None = None,
    student_steps: int | None = None,
    init: Path | None = None,
    device: str | None = "cpu",
    log=print,
) -> dict[str, Any]:
    """Distil the pico-turbo at ``teacher_path`` (default: the packaged one) into a student
    with ``attention`` levels and ``lite`` blocks; writes the checkpoint and its card.
    ``init``: continue this earlier student (its architecture; fresh optimiser and schedule)
    instead of starting from the teacher's weights. ``device``: "cuda" trains on a GPU (the
    per-step draws stay on CPU generators, so a run is the same data on either)."""
    cfg = with_overrides(TINY if tiny else CompressConfig(), None, steps=steps, batch=batch,
                         lr=lr, attention=tuple(attention) if attention is not None else None,
                         lite=tuple(lite) if lite is not None else None,
                         lite_parts=tuple(lite_parts) if lite_parts is not None else None,
                         endpoint=endpoint, reuse_deep=reuse_deep,
                         student_steps=student_steps)
    if cfg.student_steps and (cfg.student_steps not in (1, 2) or cfg.reuse_deep):
        raise ValueError("--student-steps: 1 or 2 (the teacher runs 4), and not with "
                         "--student-reuse-deep")
    teacher_path = Path(teacher_path) if teacher_path else weights_path(NAME)
    bundle = load_pico(teacher_path)
    if bundle.sampling.guidance is not None:
        raise ValueError(f"{teacher_path}: a model sampled with CFG; compress a few-step "
                         "pico-turbo (pico-diffusion is distilled with reflow)")
    teacher = bundle.model.eval().requires_grad_(False)
    start = load_pico(init) if init is not None else None
    if start is None:
        student = student_from(teacher, cfg.attention, cfg.lite, cfg.lite_parts)
    else:
        if start.tokenizer.vocab != bundle.tokenizer.vocab:
            raise ValueError(f"--init {init}: its vocabulary is not the teacher's")
        student = start.model
        asked = (attention, lite, lite_parts) != (None, None, None)
        if asked and student.cfg != student_from(teacher, cfg.attention, cfg.lite,
                                                 cfg.lite_parts).cfg:
            raise ValueError(f"--init {init}: its U-Net is not the student asked for (give the "
                             "same --student-attention / --student-lite flags it was made with)")
        cfg = replace(cfg, attention=student.cfg.attn_levels, lite=student.cfg.lite_levels,
                      lite_parts=student.cfg.lite_parts)
    paths = loop.prepare(f"{NAME}-compress", NAME, out=out, run_dir=run_dir, tiny=tiny,
                         threads=threads, device=device)
    out, run_dir, dev = paths.out, paths.run_dir, paths.device
    teacher.to(dev)
    student.to(dev).train().requires_grad_(True)
    seed_everything(seed)
    opt = adamw(student.parameters(), dev, lr=cfg.lr, weight_decay=0.0)
    grids = {n: timesteps(n, bundle.sampling.shift).to(dev) for n in (4, 2)}
    sampling = replace(bundle.sampling, reuse_deep=cfg.reuse_deep,
                       steps=cfg.student_steps or bundle.sampling.steps)

    def loss(step: int, gen: torch.Generator) -> torch.Tensor:
        # fresh captions and noise each step, from streams seeded with the step
        captions = [c for _, c in _scenes(cfg.batch, data.stream_seed(seed + 31, step))]
        noise = torch.randn(cfg.batch, 4, 16, 16, generator=gen)
        four = (torch.rand((), generator=gen).item() < cfg.four_step_share
                or cfg.student_steps > 0)
        ids, grid = bundle.tokenizer(captions).to(dev), grids[4 if four else 2]
        noise = noise.to(dev)
        if cfg.student_steps:
            return halving_loss(student, teacher, ids, noise, grid, cfg.student_steps,
                                cfg.endpoint)
        if cfg.reuse_deep:
            return cached_loss(student, teacher, ids, noise, grid, cfg.reuse_deep)
        return compress_loss(student, teacher, ids, noise, grid, cfg.endpoint)

    def export(net: torch.nn.Module, state: RunState) -> None:
        save_pico(run_dir / f"{NAME}.safetensors", net, student.cfg, bundle.tokenizer,
                  sampling, {"train": {"steps": state.step}})

    outcome = loop.train(loop.Job(f"{NAME} compress", student, opt, loss, seed=seed + 29,
                                  export=export),
                         loop.Schedule.of(cfg, max_minutes=max_minutes), run_dir=run_dir,
                         resume=resume, log=log)
    state = outcome.state
    cfg = replace(cfg, steps=outcome.total)
    summary = {
        "steps": state.step, "wall_s": round(state.wall_s, 1), "batch": cfg.batch,
        "params": count_params(student), "teacher_params": count_params(teacher),
        "threads": paths.threads, "final_loss": outcome.last.get("loss"),
        "teacher": teacher_path.name, "compress": True,
        "init": str(init) if init else None, "device": str(dev),
        "init_steps": (start.meta.get("train") or {}).get("steps") if start else None,
    }
    save_pico(out, cpu_copy(outcome.weights), student.cfg, bundle.tokenizer, sampling,
              {"train": summary, "train_config": asdict(cfg), "seed": seed,
               "teacher_meta": bundle.meta.get("train")})
    write_compress_card(out.with_suffix(".md"), cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary


def _scenes(n: int, seed: int) -> list:
    from triptych.world.dataset import sample_scenes

    return sample_scenes(n, seed, "train")


def _levels(levels: tuple[int, ...]) -> str:
    return ",".join(map(str, levels)) or "none"


def _halving_text(student_steps: int, endpoint: float) -> str:
    k = 4 // student_steps
    return (f", runs the teacher's 4-step Euler trajectory, and trains each of the student's "
            f"{student_steps} steps to cover {k} of the teacher's: its velocity regresses "
            f"the average velocity of the teacher's {k} steps over the same interval, from the "
            "teacher's states and (on-policy) from where the student's own coarse steps "
            "landed, the teacher re-run from there (progressive distillation)"
            + (f", plus {endpoint} x the MSE between where the student's {student_steps} "
               "step(s) and the teacher's 4 end, backpropagated through the student's steps"
               if endpoint else "")
            + ". Samples with "
            f"{student_steps} Euler step(s) by default, one conditional pass, no CFG; 4 steps "
            "stay available.")


def compress_command(cfg: CompressConfig, seed: int, init: bool = False,
                     device: str = "cpu") -> str:
    flags = f"--seed {seed} --steps {cfg.steps}" + command_flags(
        cfg, CompressConfig(), {"batch": "--batch", "lr": "--lr", "endpoint": "--endpoint-weight",
                                "reuse_deep": "--student-reuse-deep",
                                "student_steps": "--student-steps"}, device)
    if cfg.attention is not None:
        flags += f" --student-attention {_levels(cfg.attention)}"
    if cfg.lite:
        flags += (f" --student-lite {_levels(cfg.lite)} "
                  f"--student-lite-parts {','.join(cfg.lite_parts)}")
    if init:
        flags += " --init <the earlier student>"
    return f"triptych train {NAME} --compress-from <the previous pico-turbo> {flags}"


def write_compress_card(path: Path, cfg: CompressConfig, summary: dict, seed: int,
                        metrics: str | None = None) -> None:
    kept = _levels(cfg.attention) if cfg.attention is not None else "the teacher's"
    command = compress_command(cfg, seed, bool(summary.get("init")), summary["device"])
    lite = (f"; at level(s) {_levels(cfg.lite)} they keep only {' + '.join(cfg.lite_parts)}"
            if cfg.lite else "")
    write_card(path, f"{NAME} (a lean student compressed from a few-step pico-turbo)", {
        "Architecture": (
            "pico-diffusion's U-Net, text encoder and vocabulary, with attention blocks at "
            f"level(s) {kept} (level 0 = 16x16, 1 = 8x8, 2 = 4x4; the middle block keeps "
            f"self-attention, cross-attention and MLP){lite}. Every weight is carried over "
            f"from the teacher. Parameters: {summary['params']:,} (teacher "
            f"{summary['teacher_params']:,}). Stored as fp16 safetensors."),
        "Distillation": (
            f"From the few-step pico-turbo `{summary['teacher']}` (itself reflowed from "
            "pico-diffusion; its card is in this file's history): each step draws fresh "
            "train-split world captions and noise from a seeded stream"
            + (_halving_text(cfg.student_steps, cfg.endpoint) if cfg.student_steps else
               f", runs the teacher's 4-step ({cfg.four_step_share:.0%}) or 2-step Euler "
               "trajectory and the student's own from the same noise, and regresses the "
               "teacher's velocity at the states of both (the student's: on-policy, so it "
               "learns to steer back from its own drift)"
               + (f", plus {cfg.endpoint} x the MSE between where the two trajectories end, "
                  "backpropagated through the student's unrolled steps" if cfg.endpoint
                  else "")
               + ". Samples like its teacher: 4 Euler steps, one conditional pass, no CFG.")
            + (f" It continued an earlier student (`{summary['init']}`, "
               f"{summary.get('init_steps')} steps) with a fresh optimiser and schedule."
               if summary.get("init") else "")),
        "Training": md_table({
            "steps": summary["steps"], "trajectories per step": cfg.batch,
            "optimiser": f"AdamW lr {cfg.lr}, {cfg.warmup} warm-up, cosine to 10 %, clip 1.0",
            "EMA": cfg.ema, "seed": seed,
            "wall time": f"{summary['wall_s'] / 60:.1f} min "
                         f"({machine_summary(summary.get('threads'))}, {summary['device']})",
            "final training loss": summary.get("final_loss"),
        }),
        "Metrics": metrics or "Not measured by the trainer; see docs/builtin-models.md.",
        "Reproduce": f"```\n{command}\n```\n\nResumable: the run state lives in "
                     f"`runs/{NAME}-compress/`.",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })
