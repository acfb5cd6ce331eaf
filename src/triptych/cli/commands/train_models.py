"""``triptych train autoencoder | fast-decoder | pico-diffusion | pico-turbo | ...``: reproduce
a shipped checkpoint.

Each trainer is seeded and resumable (run state in ``runs/<name>/``), shows a progress bar and
writes the checkpoint plus its model card (``src/triptych/weights/<name>.{safetensors,md}``
unless ``--out`` says otherwise). ``--tiny`` runs a few steps of a tiny config (CI smoke test).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from triptych.cli.commands.train import train
from triptych.cli.output import console, emit_json, json_option

COMMANDS: list[click.Command] = []  # the subcommands attach to the ``train`` group


def usage_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A trainer's ValueError (a bad --init, --student-attention, --device) is the user's to
    fix: print it as a usage error, not a traceback."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc

    return run


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = usage_errors(func)
    func = click.option("--steps", type=int, default=None,
                        help="Training steps (default: the shipped recipe).")(func)
    func = click.option("--seed", type=int, default=0, show_default=True)(func)
    func = click.option("--out", type=click.Path(path_type=Path), default=None,
                        help="Checkpoint path (default: the packaged weights file).")(func)
    func = click.option("--tiny", is_flag=True,
                        help="Tiny config, a few steps: a smoke test, not a model.")(func)
    func = click.option("--resume/--no-resume", default=True, show_default=True,
                        help="Continue the run in runs/<name>/ if one exists.")(func)
    func = click.option("--run-dir", type=click.Path(path_type=Path), default=None,
                        help="Where the resumable run state lives (default runs/<name>).")(func)
    return json_option(func)


def _schedule(lr: str, batch: int, clock: str) -> Callable[[Callable[..., Any]], Any]:
    """--lr, --batch, --device and --max-minutes, with this trainer's defaults in the help."""

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--max-minutes", type=float, default=None, help=clock)(func)
        func = click.option("--device", default="cpu", show_default=True,
                            help="cpu, cuda, cuda:N, or auto (CUDA when present).")(func)
        func = click.option("--batch", type=int, default=None,
                            help=f"Batch size (default {batch}).")(func)
        return click.option("--lr", type=float, default=None,
                            help=f"Peak learning rate (default {lr}).")(func)

    return apply


def _finish(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
    else:
        console.print(summary)


def _log(as_json: bool) -> Callable[[str], None]:
    return (lambda msg: click.echo(msg, err=True)) if as_json else console.print


@train.command("autoencoder")
@_common
@click.option("--decoder-steps", type=int, default=0, show_default=True,
              help="Then fine-tune only the decoder (encoder frozen) on text-heavy batches.")
def train_autoencoder_cmd(steps, seed, out, tiny, resume, run_dir, as_json,
                          decoder_steps) -> None:
    """The shared 64x64x3 <-> 16x16x4 autoencoder (reports reconstruction PSNR)."""
    from triptych.training.autoencoder import train_autoencoder

    _finish(train_autoencoder(steps=steps, seed=seed, out=out, tiny=tiny, resume=resume,
                              run_dir=run_dir, decoder_steps=decoder_steps,
                              log=_log(as_json)), as_json)


@train.command("fast-decoder")
@_common
@click.option("--autoencoder", "ae_path", type=click.Path(path_type=Path), default=None,
              help="The autoencoder whose decoder it distils (default: the packaged one).")
def train_fast_decoder_cmd(steps, seed, out, tiny, resume, run_dir, as_json, ae_path) -> None:
    """pico-turbo's cheaper decoder, distilled from the shared autoencoder's (reports PSNR
    against it)."""
    from triptych.training.fast_decoder import train_fast_decoder

    _finish(train_fast_decoder(steps=steps, seed=seed, out=out, ae_path=ae_path, tiny=tiny,
                               resume=resume, run_dir=run_dir, log=_log(as_json)), as_json)


def check_kinds(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        from triptych.training.data import parse_kinds

        try:
            parse_kinds(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@train.command("pico-diffusion")
@_common
@click.option("--autoencoder", "ae_path", type=click.Path(path_type=Path), default=None,
              help="Autoencoder checkpoint (default: the packaged one).")
@click.option("--pairs", type=int, default=None, help="Cached training pairs (default 30k).")
@click.option("--kinds", default=None, metavar="KIND=W,...", callback=check_kinds,
              help="Layout weights of the cached pairs, e.g. 'single=0.1,pair=0.25,count=0.25,"
                   "shapes=0.35,text=0.05' (default: the world's own mix).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Warm-start from this pico checkpoint (fresh optimiser).")
@_schedule("8e-4", 64, "Fit the schedule to this many minutes (speed measured over 5 % of "
                       "it), then export; the card states the fitted --steps.")
def train_pico_diffusion_cmd(steps, seed, out, tiny, resume, run_dir, as_json, ae_path,
                             pairs, kinds, init, lr, batch, device, max_minutes) -> None:
    """The latent U-Net flow-matching model with cross-attention and CFG."""
    from triptych.training.pico_diffusion import train_pico_diffusion

    _finish(train_pico_diffusion(steps=steps, seed=seed, out=out, tiny=tiny, resume=resume,
                                 run_dir=run_dir, ae_path=ae_path, pairs=pairs, kinds=kinds,
                                 init=init,
                                 lr=lr, batch=batch, device=device, max_minutes=max_minutes,
                                 log=_log(as_json)), as_json)


def _levels(_ctx: click.Context, _param: click.Parameter, value: str | None
            ) -> tuple[int, ...] | None:
    if value is None:
        return None
    if value.strip().lower() == "none":
        return ()  # attention only in the middle block
    try:
        levels = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise click.BadParameter(f"comma-separated level numbers, got {value!r}") from None
    if not levels or min(levels) < 0:
        raise click.BadParameter(f"comma-separated level numbers (0 = 16x16), got {value!r}")
    return levels


def _parts(_ctx: click.Context, _param: click.Parameter, value: str | None
           ) -> tuple[str, ...] | None:
    if value is None:
        return None
    from triptych.nets.unet import ATTN_PARTS

    parts = tuple(p.strip().lower() for p in value.split(",") if p.strip())
    if not parts or not set(parts) <= set(ATTN_PARTS):
        raise click.BadParameter(f"a comma list of {', '.join(ATTN_PARTS)}, got {value!r}")
    return parts


@train.command("pico-turbo")
@_common
@click.option("--teacher", type=click.Path(path_type=Path), default=None,
              help="pico-diffusion checkpoint to distil (default: the packaged one).")
@click.option("--pairs", type=int, default=None,
              help="Teacher-generated (noise, prompt, latent) triples (default 6144).")
@_schedule("1e-4", 64, "The whole run, teacher pairs included: the fine-tuning schedule is "
                       "fitted to what is left; the card states the fitted --steps.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Continue this pico-turbo (same teacher vocabulary) instead "
                                 "of starting the student from the teacher (with "
                                 "--compress-from: continue this earlier student).")
@click.option("--student-attention", "attention", default=None, metavar="LEVELS",
              callback=_levels,
              help="U-Net levels that keep attention in the student, e.g. '2' (4x4 only: "
                   "a cheaper step) or 'none'; default: all of its start's.")
@click.option("--compress-from", "compress_from",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Instead of reflowing pico-diffusion: compress this few-step pico-turbo "
                   "into a cheaper student (--student-attention, --student-lite) by matching "
                   "its velocities on its own and the student's trajectories.")
@click.option("--student-lite", "lite", default=None, metavar="LEVELS", callback=_levels,
              help="With --compress-from: levels whose attention blocks keep only "
                   "--student-lite-parts.")
@click.option("--student-lite-parts", "lite_parts", default=None, metavar="PARTS",
              callback=_parts,
              help="With --student-lite: the branches those blocks keep, a comma list of "
                   "self, cross, mlp (default: cross).")
@click.option("--student-reuse-deep", "reuse_deep", type=click.IntRange(0, 3), default=None,
              help="With --compress-from: the student samples with DeepCache (after each "
                   "full step this many steps reuse its deep feature) and is trained so.")
@click.option("--student-steps", "student_steps", type=click.Choice(["1", "2"]), default=None,
              help="With --compress-from: the student samples with this many steps, each "
                   "trained to cover the teacher's 4 / N steps (progressive distillation).")
@click.option("--endpoint-weight", "endpoint", type=float, default=None,
              help="With --compress-from: also match where the teacher's trajectory ends, "
                   "through the student's unrolled steps (weight; default 0).")
def train_pico_turbo_cmd(steps, seed, out, tiny, resume, run_dir, as_json, teacher,
                         pairs, lr, batch, device, max_minutes, init, attention,
                         compress_from, lite, lite_parts, reuse_deep, student_steps,
                         endpoint) -> None:
    """Distil pico-diffusion into a 1-4 step sampler (reflow, guidance baked in), or
    compress a pico-turbo into a cheaper student (--compress-from)."""
    if compress_from is not None:
        given = [flag for flag, value in (("--teacher", teacher), ("--pairs", pairs))
                 if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)}: not used with --compress-from (its "
                                   "teacher is that pico-turbo, its data drawn fresh)")
        from triptych.training.turbo_compress import compress_turbo

        _finish(compress_turbo(teacher_path=compress_from, steps=steps, seed=seed, out=out,
                               tiny=tiny, resume=resume, run_dir=run_dir, batch=batch, lr=lr,
                               max_minutes=max_minutes, attention=attention, lite=lite,
                               lite_parts=lite_parts, endpoint=endpoint,
                               reuse_deep=reuse_deep, init=init, device=device,
                               student_steps=int(student_steps) if student_steps else None,
                               log=_log(as_json)), as_json)
        return
    if (lite, lite_parts, endpoint, reuse_deep, student_steps) != (None,) * 5:
        raise click.UsageError("--student-lite, --student-lite-parts, --student-reuse-deep, "
                               "--student-steps and --endpoint-weight need --compress-from")
    from triptych.training.pico_turbo import train_pico_turbo

    _finish(train_pico_turbo(steps=steps, seed=seed, out=out, tiny=tiny, resume=resume,
                             run_dir=run_dir, teacher_path=teacher, pairs=pairs, lr=lr,
                             batch=batch, device=device, max_minutes=max_minutes,
                             init=init, attention=attention, log=_log(as_json)), as_json)
