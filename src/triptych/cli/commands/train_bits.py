"""``triptych train bits-tokenizer | pico-bits``: reproduce the pico-bits checkpoints.

Same shape as ``train_models.py``: seeded, resumable (run state in ``runs/<name>/``), progress
bar, writes ``src/triptych/weights/<name>.{safetensors,md}`` unless ``--out`` says otherwise;
``--tiny`` is the CI smoke test; ``--device cuda`` trains on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from triptych.cli.commands.train import train
from triptych.cli.commands.train_models import usage_errors
from triptych.cli.output import console, emit_json, json_option

# the tokenizer architectures (``nets.bits_tokenizer.TOKENIZER_CONFIGS``; "tiny" is --tiny's)
TOKENIZER_SIZES = ("small", "medium", "medium-14")

COMMANDS: list[click.Command] = []  # the subcommands attach to the ``train`` group


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = usage_errors(func)  # a bad --device, --size, --init: a usage error
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
    func = click.option("--device", default="cpu", show_default=True,
                        help="cpu, cuda, cuda:N, or auto (CUDA when present).")(func)
    return json_option(func)


def _finish(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
    else:
        console.print(summary)


def _log(as_json: bool) -> Callable[[str], None]:
    return (lambda msg: click.echo(msg, err=True)) if as_json else console.print


@train.command("bits-tokenizer")
@_common
@click.option("--batch", type=int, default=None, help="Batch size (default 32).")
@click.option("--max-minutes", type=float, default=None,
              help="Fit the schedule to this many minutes, then export; the card states the "
                   "fitted --steps.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Processes rendering the training stream ahead (same images; for a GPU).")
@click.option("--lr", type=float, default=None, help="Peak learning rate (default 1e-3).")
@click.option("--decoder-from", "decoder_from",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Start from this tokenizer and train only its decoder: the token space "
                   "(and every pico-bits trained on it) stays valid.")
@click.option("--context-layers", "context_layers", type=click.IntRange(min=0), default=None,
              help="Transformer blocks over the 8x8 code grid at the decoder's start (with "
                   "--decoder-from they are added to the given decoder, starting as a no-op).")
@click.option("--size", type=click.Choice(sorted(TOKENIZER_SIZES)), default=None,
              help="Architecture of a new tokenizer (default small; medium and medium-14 "
                   "are wider, for a GPU's batch; medium-14 has 14-bit tokens).")
def train_bits_tokenizer_cmd(steps, seed, out, tiny, resume, run_dir, device, as_json, batch,
                             max_minutes, workers, lr, decoder_from, context_layers,
                             size) -> None:
    """The f=8 binary-token (LFQ) tokenizer that pico-bits generates in."""
    from triptych.training.bits_tokenizer import train_bits_tokenizer

    _finish(train_bits_tokenizer(steps=steps, seed=seed, out=out, tiny=tiny, resume=resume,
                                 run_dir=run_dir, device=device, batch=batch,
                                 max_minutes=max_minutes, workers=workers, lr=lr,
                                 decoder_from=decoder_from, context_layers=context_layers,
                                 size=size, log=_log(as_json)), as_json)


@train.command("pico-bits")
@_common
@click.option("--tokenizer", "tokenizer_path", type=click.Path(path_type=Path), default=None,
              help="bits-tokenizer checkpoint (default: the packaged one).")
@click.option("--pairs", type=int, default=None, help="Cached training pairs (default 50k).")
@click.option("--batch", type=int, default=None, help="Batch size (default 64).")
@click.option("--max-minutes", type=float, default=None,
              help="Fit the schedule to this many minutes (speed measured over 5 % of it), "
                   "then export; the card states the fitted --steps.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Continue this trained pico-bits (same tokenizer) with a "
                                 "fresh optimiser and schedule.")
@click.option("--lr", type=float, default=None, help="Peak learning rate (default 6e-4).")
def train_pico_bits_cmd(steps, seed, out, tiny, resume, run_dir, device, as_json,
                        tokenizer_path, pairs, batch, max_minutes, init, lr) -> None:
    """The autoregressive GPT over binary tokens (text prefix, KV cache, CFG)."""
    from triptych.training.pico_bits import train_pico_bits

    _finish(train_pico_bits(steps=steps, seed=seed, out=out, tiny=tiny, resume=resume,
                            run_dir=run_dir, tokenizer_path=tokenizer_path, pairs=pairs,
                            batch=batch, device=device, max_minutes=max_minutes,
                            init=init, lr=lr, log=_log(as_json)), as_json)
