"""The parts the training loop (``training/loop.py``) is made of, and what trainers share
around it: seeding, threads, EMA, warm-up LR, the clock, logs, model cards.

A run lives in ``runs/<name>/`` (git-ignored): the run state to resume from (``state.json``
and its tensors, written by the loop), ``log.jsonl`` one line per logging interval. The
shipped artefact is a separate safetensors file (EMA weights, fp16) plus its markdown model
card.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from triptych.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
RUNS_DIR = REPO_ROOT / "runs"


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch: a model's initial weights depend on the seed only."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(threads: int | None = None) -> int:
    """``threads``, else ``Settings.torch_threads`` (``TRIPTYCH_TORCH_THREADS``, default 1)."""
    n = threads or Settings().torch_threads
    torch.set_num_threads(n)
    return n


class EMA:
    """Exponential moving average of parameters (buffers copied). decay 0.999 for short runs."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._params = list(self.model.parameters())  # fixed: built once, not every step

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        # warm-up the decay so early EMA weights are not dominated by the random init
        d = min(self.decay, (1 + step) / (10 + step))
        # one multi-tensor kernel instead of one per parameter: on a GPU the per-tensor loop
        # was a large share of a small net's step (launch-bound); same arithmetic on the CPU
        torch._foreach_lerp_(self._params, [p.detach() for p in model.parameters()], 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers(), strict=True):
            e.copy_(b)


def adamw(params: Any, device: torch.device, **kwargs: Any) -> torch.optim.AdamW:
    """AdamW, fused into one kernel on a GPU (the foreach default on the CPU, unchanged)."""
    return torch.optim.AdamW(params, fused=device.type == "cuda" or None, **kwargs)


def to_device(device: torch.device, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """CPU tensors (per-step draws, batch indices) onto ``device`` without a host sync.

    A copy from pageable memory synchronises the stream, so a step that draws on CPU
    generators stalled the GPU queue several times per step; pinned buffers copied with
    ``non_blocking`` let the CPU run ahead (the caching host allocator keeps each buffer alive
    until its copy is done). On the CPU this returns the tensors as they are."""
    if device.type == "cpu":
        return tensors
    return tuple(t.pin_memory().to(device, non_blocking=True) for t in tensors)


def lr_at(step: int, base_lr: float, warmup: int, total: int, final_frac: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``final_frac * base_lr`` at ``total`` steps."""
    import math

    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class RunState:
    step: int = 0
    wall_s: float = 0.0  # training wall time summed over resumes
    extra: dict[str, Any] = field(default_factory=dict)


class JsonLog:
    def __init__(self, path: Path, *, reset: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        if reset:
            path.unlink(missing_ok=True)  # a fresh (non-resumed) run starts a fresh log

    def write(self, **row: Any) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")


def progress(total: int, initial: int, desc: str) -> Any:
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True,
                mininterval=0.5 if interactive else 30.0, file=sys.stderr)


class Timer:
    def __init__(self, start: float = 0.0) -> None:
        self.offset = start
        self.t0 = time.monotonic()

    @property
    def total(self) -> float:
        return self.offset + time.monotonic() - self.t0


class ClockFit:
    """Fits a run's schedule to ``max_minutes`` of wall clock (a rented or shared machine).

    The speed is measured over at least 50 steps and 5 % of the budget, starting once 20 steps
    and 5 % of the budget have passed (so that start-up costs, and other runs starting beside
    this one on a shared GPU, stay out of the measurement). The planned total becomes
    min(total, what fits) and is kept in ``state.extra["total_steps"]``, so a resumed run keeps
    the same schedule and the card states the step count that reproduces the run without the
    cap. A hard stop at the cap remains. ``max_minutes=None`` never changes anything.
    """

    def __init__(self, max_minutes: float | None, state: RunState, timer: Timer,
                 log: Callable[[str], None] = print) -> None:
        self.max_minutes, self.state, self.timer, self.log = max_minutes, state, timer, log
        self.first, self.start_wall = state.step, timer.total
        self.calib_step: int | None = None
        self.calib_wall = 0.0

    def planned(self, default: int) -> int:
        return int(self.state.extra.get("total_steps", default))

    def check(self, total: int) -> tuple[int, bool]:
        """Call before each step: (the planned total, whether to stop now)."""
        if self.max_minutes is None:
            return total, False
        step, now = self.state.step, self.timer.total
        budget_s = 60 * self.max_minutes
        budget = budget_s - (now - self.start_wall)
        window = 0.05 * budget_s
        if "total_steps" not in self.state.extra:
            if self.calib_step is None:
                if step >= self.first + 20 and now - self.start_wall >= window:
                    self.calib_step, self.calib_wall = step, now
            elif step >= self.calib_step + 50 and now - self.calib_wall >= window:
                rate = (step - self.calib_step) / max(1e-6, now - self.calib_wall)  # steps/s
                total = min(total, step + max(1, int(0.95 * rate * budget)))
                self.state.extra["total_steps"] = total
                self.log(f"{rate:.2f} steps/s: the schedule ends at step {total} "
                         f"(--max-minutes {self.max_minutes})")
        if budget <= 0:
            self.log(f"stopping at step {step}: --max-minutes {self.max_minutes} reached")
            return total, True
        return total, False


def with_overrides(cfg: Any, overrides: dict[str, Any] | None = None, **named: Any) -> Any:
    """A trainer's recipe ``cfg`` (a frozen dataclass) with the named CLI values that were
    given (not None), then ``overrides`` (any field: a GPU run's batch, checkpoint cadence)."""
    return replace(cfg, **{**{k: v for k, v in named.items() if v is not None},
                           **(overrides or {})})


def command_flags(cfg: Any, default: Any, flags: dict[str, str], device: Any = "cpu") -> str:
    """The ``--flag value`` pairs a card's command needs beyond the recipe's defaults: each
    field in ``flags`` (field -> flag) where ``cfg`` differs from ``default``, and the device
    when it is not the CPU."""
    out = "".join(f" {flag} {getattr(cfg, name)}" for name, flag in flags.items()
                  if getattr(cfg, name) != getattr(default, name))
    device = str(device).split(":")[0]
    return out + (f" --device {device}" if device != "cpu" else "")


def cpu_copy(model: nn.Module) -> nn.Module:
    """The model itself when it lives on the CPU, else a CPU copy: exports and previews run
    there whatever device trains (sampling draws from CPU generators)."""
    if next(model.parameters()).device.type == "cpu":
        return model
    return copy.deepcopy(model).cpu().eval()


PREVIEW_PROMPTS = (
    "a red circle", "two cats", "a dog to the left of a cat", "a blue square and a yellow star",
    "the word CAT in white on black", "a rocket on a green background", "three apples",
    "a sun above a house",
)


@torch.no_grad()
def save_grid(pipe: Any, path: Path, prompts: tuple[str, ...] = PREVIEW_PROMPTS) -> None:
    """One row of 128 px samples (seed = index) for ``prompts``: a quick look at a run."""
    from PIL import Image

    from triptych.nets.pixels import to_uint8

    images = to_uint8(pipe(list(prompts), list(range(len(prompts)))))  # [N,64,64,3]
    Image.fromarray(images.transpose(1, 0, 2, 3).reshape(64, -1, 3)).resize(
        (128 * len(prompts), 128), Image.NEAREST).save(path)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def machine_summary(threads: int | None = None) -> str:
    n = threads or torch.get_num_threads()
    return f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, {n} threads"


def write_card(path: Path, title: str, sections: dict[str, str]) -> Path:
    """A markdown model card: ``# title`` then one ``## heading`` per section."""
    lines = [f"# {title}", ""]
    for heading, body in sections.items():
        lines += [f"## {heading}", "", body.strip(), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def md_table(rows: dict[str, Any]) -> str:
    out = ["| key | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(out)


def update_card_section(path: Path, heading: str, body: str) -> Path:
    """Replace (or append) one ``## heading`` section of a model card, e.g. to record eval
    results measured after training."""
    text = path.read_text()
    marker = f"## {heading}\n"
    block = f"{marker}\n{body.strip()}\n\n"
    if marker in text:
        start = text.index(marker)
        nxt = text.find("\n## ", start + len(marker))
        text = text[:start] + block + (text[nxt + 1 :] if nxt != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + block
    path.write_text(text)
    return path
