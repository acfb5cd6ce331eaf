"""The training loop every trainer runs: a trainer brings its model, optimiser and loss (a
``Job``); the loop does the rest.

* **Device**: ``resolve_device`` (the CPU unless asked; a clear error when CUDA is asked for
  and absent).
* **Data order by step**: step ``k`` draws from ``torch.Generator().manual_seed(
  stream_seed(job.seed, k))`` and ``BatchOrder`` gives its batch, so what a step sees is a
  function of ``k`` alone.
* **Resume bit-for-bit**: at every checkpoint the run state (model, EMA, optimiser, the
  torch/CUDA/numpy/python RNG states, step, wall time, a clock-fitted schedule) is written to
  ``run_dir/state.json`` plus the tensors in a safetensors file it names; rerunning resumes
  from it, and N steps in one go equal N/2, a resume, and N/2 more.
* **Schedule**: linear warm-up then cosine (``lr_at``); with ``max_minutes`` the schedule is
  fitted to the clock (``ClockFit``) and a hard stop keeps the state for a resume, as does
  ``stop_at`` (a step the run cannot pass yet: the judge without its autoencoder).
* **EMA** (``Schedule.ema``; None: the exact weights ship), gradient clipping, a JSON log line
  every ``log_every`` steps, a progress bar, and the shipped weights exported at every
  checkpoint (``Job.export``), previewed every ``preview_every`` steps (``Job.preview``) and
  scored every ``eval_every`` steps and at the end (``Job.evaluate``, into the log).
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from triptych.cpu_features import native_bf16
from triptych.training.common import (
    EMA,
    RUNS_DIR,
    ClockFit,
    JsonLog,
    RunState,
    Timer,
    cpu_copy,
    lr_at,
    progress,
    set_threads,
)
from triptych.training.data import stream_seed


def resolve_device(device: str | None) -> torch.device:
    """``None`` or "cpu": the CPU; "auto": CUDA when present, else the CPU; "cuda"/"cuda:N":
    that GPU. ValueError (a usage error on the command line) for CUDA without one, or a name
    torch does not know."""
    if device in (None, "", "cpu"):
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device}: not a torch device (cpu, cuda, cuda:N or "
                         "auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return dev


def use_bf16(wanted: bool | None, device: torch.device) -> bool:
    """bf16 autocast: ``wanted`` when given, else where it pays (a CUDA device with bf16, or a
    CPU that multiplies bf16 natively: emulated bf16 on AVX-512 alone made a step 3x
    slower)."""
    if wanted is not None:
        return wanted
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return native_bf16()


class BatchOrder:
    """Index batches over ``n`` items: epoch e is a permutation seeded with (seed, e), so the
    batch of any step is known without replaying the ones before it (exact resume)."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        if n < batch:
            raise ValueError(f"{n} training pairs are fewer than one batch of {batch}")
        self.n, self.batch, self.seed = n, batch, seed
        self.per_epoch = n // batch
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def __call__(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed + 1, epoch))
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=gen)
        return self._perm[k * self.batch : (k + 1) * self.batch]


@dataclass(frozen=True)
class Schedule:
    """How long and how a run trains; ``Schedule.of(cfg)`` reads the fields a trainer's
    recipe has (by name) and keeps these defaults for the others."""

    steps: int
    lr: float
    warmup: int
    final_frac: float = 0.1  # the cosine ends at final_frac * lr
    ema: float | None = None  # None: no EMA, the trained weights themselves ship
    clip: float = 1.0  # gradient norm
    log_every: int = 25
    checkpoint_every: int = 250
    checkpoint_minutes: float = 5.0  # a crash never loses more than this
    max_minutes: float | None = None  # fit the schedule to the clock, then stop
    preview_every: int = 0
    eval_every: int = 0  # Job.evaluate's cadence (0: never)

    @classmethod
    def of(cls, cfg: Any, **given: Any) -> Schedule:
        names = {f.name for f in fields(cls)}
        found = {name: getattr(cfg, name) for name in names if hasattr(cfg, name)}
        return cls(**{**found, **given})


Loss = Callable[[int, torch.Generator], "torch.Tensor | tuple[torch.Tensor, dict]"]


@dataclass
class Job:
    """What a trainer brings. ``loss(step, gen)`` returns the step's loss (or the loss and a
    dict of tensors to log beside it), drawing everything random from ``gen``."""

    name: str  # the progress bar's label
    model: nn.Module  # trained in place, on its device
    opt: torch.optim.Optimizer
    loss: Loss
    seed: int  # step k draws from Generator(stream_seed(seed, k))
    export: Callable[[nn.Module, RunState], Any] | None = None  # the shipped weights (CPU)
    preview: Callable[[nn.Module, Path], Any] | None = None  # the shipped weights -> a PNG
    # the shipped weights -> scores for the log (train/eval modes are restored after it); it
    # must not change the weights nor draw from the global random generators
    evaluate: Callable[[nn.Module], dict[str, Any]] | None = None
    bf16: bool = False  # autocast the loss
    prefix: str = ""  # run_dir/<prefix>state.json, <prefix>log.jsonl


@dataclass
class Outcome:
    state: RunState
    total: int  # the schedule that ran (``max_minutes`` may have fitted it)
    weights: nn.Module  # what ships: the EMA model, or the model without EMA
    last: dict[str, float]  # the last logged values (loss, ...); {} when no step ran now
    jlog: JsonLog = field(repr=False)

    def record(self, summary: dict[str, Any], out: Path, log: Callable[[str], None]) -> None:
        """The run's last log line and message, once the trainer has written ``out``."""
        self.jlog.write(final=summary)
        log(f"saved {out} ({summary})")


# -- run state: tensors in safetensors, the rest in a small JSON file ------------------------


def has_state(run_dir: Path, prefix: str = "") -> bool:
    return (Path(run_dir) / f"{prefix}state.json").is_file()


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors = {"rng.torch": torch.get_rng_state(),
               "rng.numpy": torch.from_numpy(keys.astype(np.int64))}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors |= {f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    meta = {"numpy": [kind, int(pos), int(has_gauss), float(gauss)],
            "python": [random.getstate()[0], list(random.getstate()[1]),
                       random.getstate()[2]]}
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss,
                         gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _tensors(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share storage (tied weights)
    return {f"{prefix}{k}": v.detach().cpu().clone().contiguous() for k, v in state.items()}


def _sub(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def save_run_state(run_dir: Path, prefix: str, *, model: nn.Module, ema: EMA | None,
                   opt: torch.optim.Optimizer, state: RunState) -> None:
    """Write the tensors to a new ``<prefix>state-<step>.safetensors``, then point
    ``<prefix>state.json`` at it (an atomic replace), then drop the older tensor files: a
    crash at any moment leaves one consistent state."""
    run_dir.mkdir(parents=True, exist_ok=True)
    opt_state = opt.state_dict()
    tensors = _tensors("model.", model.state_dict())
    if ema is not None:
        tensors |= _tensors("ema.", ema.model.state_dict())
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in opt_state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{index}.{key}"] = value.detach().cpu().clone()
            else:
                scalars.setdefault(str(index), {})[key] = value
    rng_tensors, rng_meta = _rng_state()
    tensors |= rng_tensors
    name = f"{prefix}state-{state.step:08d}.safetensors"
    tmp = run_dir / f"{name}.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(run_dir / name)
    meta = {"tensors": name, "step": state.step, "wall_s": state.wall_s, "extra": state.extra,
            "ema": ema is not None, "opt_groups": opt_state["param_groups"],
            "opt_scalars": scalars, "rng": rng_meta}
    index = run_dir / f"{prefix}state.json"
    index.with_suffix(".tmp").write_text(json.dumps(meta))
    index.with_suffix(".tmp").replace(index)
    for old in run_dir.glob(f"{prefix}state-*.safetensors"):
        if old.name != name:
            old.unlink()


def read_run_state(run_dir: Path, prefix: str = "") -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and the JSON of a saved run state."""
    meta = json.loads((Path(run_dir) / f"{prefix}state.json").read_text())
    return load_file(str(Path(run_dir) / meta["tensors"])), meta


def load_run_state(run_dir: Path, prefix: str, *, model: nn.Module, ema: EMA | None,
                   opt: torch.optim.Optimizer) -> RunState:
    tensors, meta = read_run_state(run_dir, prefix)
    model.load_state_dict(_sub(tensors, "model."))
    if ema is not None and meta["ema"]:
        ema.model.load_state_dict(_sub(tensors, "ema."))
    groups = opt.state_dict()["param_groups"]
    saved = meta["opt_groups"]
    for group, mine in zip(saved, groups, strict=True):  # JSON made tuples (betas) lists
        for key, value in mine.items():
            if isinstance(value, tuple) and key in group:
                group[key] = tuple(group[key])
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in _sub(tensors, "opt.").items():
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    for index, values in meta["opt_scalars"].items():
        per_param.setdefault(int(index), {}).update(values)
    opt.load_state_dict({"state": per_param, "param_groups": saved})
    _set_rng_state(tensors, meta["rng"])
    return RunState(step=meta["step"], wall_s=meta["wall_s"], extra=meta["extra"])


def _refuse_old_state(run_dir: Path, prefix: str) -> None:
    old = run_dir / f"{prefix}state.pt"
    if old.is_file():
        raise ValueError(f"{old}: a run state of an earlier Triptych version, which this one "
                         "cannot resume; pass --no-resume to start the run over")


# -- the loop ---------------------------------------------------------------------------------


def _autocast(bf16: bool, device: torch.device) -> contextlib.AbstractContextManager:
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def _evaluate(job: Job, shipped: nn.Module) -> dict[str, Any]:
    modes = [(m, m.training) for m in shipped.modules()]
    try:
        return job.evaluate(cpu_copy(shipped)) if job.evaluate is not None else {}
    finally:
        for module, training in modes:
            module.training = training


def train(job: Job, schedule: Schedule, *, run_dir: Path, resume: bool = True,
          extra: dict[str, Any] | None = None,
          on_start: Callable[[RunState], Any] | None = None, stop_at: int | None = None,
          log: Callable[[str], None] = print) -> Outcome:
    """Run ``job`` to the end of ``schedule`` (or the clock's), resuming ``run_dir``'s saved
    state when ``resume``. ``extra``: a fresh run's ``RunState.extra``; ``on_start(state)``:
    called once the state is fresh or resumed, before any step (it may note something in
    ``state.extra``, e.g. a changed recipe); ``stop_at``: stop on reaching this step and keep
    the state for a resume, the schedule still planned to its end."""
    run_dir = Path(run_dir)
    model, opt, prefix = job.model, job.opt, job.prefix
    device = next(model.parameters()).device
    ema = EMA(model, schedule.ema) if schedule.ema is not None else None
    state = RunState(extra=dict(extra or {}))
    if resume and has_state(run_dir, prefix):
        state = load_run_state(run_dir, prefix, model=model, ema=ema, opt=opt)
        log(f"resumed {run_dir / f'{prefix}state.json'} at step {state.step}")
    elif resume:
        _refuse_old_state(run_dir, prefix)
    if on_start is not None:
        on_start(state)
    jlog = JsonLog(run_dir / f"{prefix}log.jsonl", reset=state.step == 0)
    timer = Timer(state.wall_s)
    fit = ClockFit(schedule.max_minutes, state, timer, log)
    total = fit.planned(schedule.steps)
    first, last_save = state.step, timer.total
    shipped = ema.model if ema is not None else model
    last: dict[str, float] = {}
    params = [p for group in opt.param_groups for p in group["params"]]

    def checkpoint() -> None:
        save_run_state(run_dir, prefix, model=model, ema=ema, opt=opt, state=state)
        if job.export is not None:
            job.export(cpu_copy(shipped), state)

    def preview() -> None:
        if job.preview is not None:
            job.preview(cpu_copy(shipped), run_dir / f"preview_{state.step:06d}.png")

    bar = progress(total, state.step, job.name)
    while state.step < total:
        total, stop = fit.check(total)
        bar.total = total
        if stop or (stop_at is not None and state.step >= stop_at):
            break
        gen = torch.Generator().manual_seed(stream_seed(job.seed, state.step))
        for group in opt.param_groups:
            group["lr"] = lr_at(state.step, schedule.lr, schedule.warmup, total,
                                schedule.final_frac)
        with _autocast(job.bf16, device):
            out = job.loss(state.step, gen)
        loss, parts = out if isinstance(out, tuple) else (out, {})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, schedule.clip)
        opt.step()
        if ema is not None:
            ema.update(model, state.step)
        state.step += 1
        bar.update(1)
        now = timer.total  # one reading per step
        if state.step % schedule.log_every == 0 or state.step == total:  # the host syncs
            last = {k: round(float(torch.as_tensor(v).detach()), 5)
                    for k, v in {"loss": loss, **parts}.items()}
            bar.set_postfix(loss=f"{last['loss']:.4f}")
            jlog.write(step=state.step, **last, lr=round(opt.param_groups[0]["lr"], 7),
                       wall_s=round(now, 1))
        ends = state.step == total
        if job.evaluate is not None and schedule.eval_every and (
                state.step % schedule.eval_every == 0 or ends):
            scores = _evaluate(job, shipped)
            jlog.write(step=state.step, eval=scores)
            log(f"{job.name} at step {state.step}: {scores}")
        late = now - last_save > 60 * schedule.checkpoint_minutes
        if state.step % schedule.checkpoint_every == 0 or ends or late:
            state.wall_s = now
            checkpoint()
            last_save = now
        if schedule.preview_every and state.step % schedule.preview_every == 0:
            preview()
    bar.close()
    state.wall_s = timer.total
    if state.step < total:  # stopped (clock, stop_at): keep the state so that it can resume
        save_run_state(run_dir, prefix, model=model, ema=ema, opt=opt, state=state)
    if schedule.preview_every and state.step > first and state.step % schedule.preview_every:
        preview()  # a last look at what ships
    return Outcome(state=state, total=total, weights=shipped, last=last, jlog=jlog)


@dataclass(frozen=True)
class Paths:
    """Where a trainer writes and what it runs on (``prepare``)."""

    out: Path  # the checkpoint (its card beside it)
    run_dir: Path  # the resumable run state, log, previews
    threads: int
    device: torch.device


def prepare(run_name: str, weights: str, *, out: Path | None, run_dir: Path | None,
            tiny: bool, threads: int | None, device: str | None = None) -> Paths:
    """A trainer's defaults: ``out`` = the packaged ``weights`` file, ``run_dir`` =
    ``runs/<run_name>`` (``-tiny`` for a tiny run); the thread count (``set_threads``) and
    the device (``resolve_device``) set up."""
    from triptych.nets.checkpoint import weights_path

    dev = resolve_device(device)
    return Paths(out=Path(out) if out else weights_path(weights),
                 run_dir=Path(run_dir) if run_dir else
                 RUNS_DIR / (f"{run_name}-tiny" if tiny else run_name),
                 threads=set_threads(threads), device=dev)
