"""``triptych train judge``: reproduce the shipped judge checkpoint (and its model card)."""

from __future__ import annotations

from pathlib import Path

import click

from triptych.cli.commands.train import train
from triptych.cli.commands.train_models import usage_errors
from triptych.cli.output import console, emit_json, handle_errors, json_option


@train.command("judge")
@click.option("--size", default="small", show_default=True, help="Judge size (tiny: CI only).")
@click.option("--steps", default=1300, show_default=True, type=int)
@click.option("--batch", default=128, show_default=True, type=int)
@click.option("--lr", default=2e-3, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--ae-prob", default=0.4, show_default=True, type=float,
              help="Share of each batch replaced by autoencoder reconstructions.")
@click.option("--ae-from-step", default=800, show_default=True, type=int,
              help="Start mixing in reconstructions at this step.")
@click.option("--no-ae", is_flag=True, help="Never use the autoencoder.")
@click.option("--threads", default=1, show_default=True, type=int)
@click.option("--text-share", default=0.35, show_default=True, type=float,
              help="Share of world scenes that show a word.")
@click.option("--random-words", default=0.0, show_default=True, type=float,
              help="Share of word scenes whose word is 2-6 random letters (not the word list).")
@click.option("--init", default=None, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Start from this judge checkpoint (a later training stage).")
@click.option("--train-only", type=click.Choice(["text"]), default=None,
              help="Train only the text line head; every other weight stays frozen.")
@click.option("--eval-n", default=1024, show_default=True, type=int)
@click.option("--run-dir", default="runs/judge", show_default=True, type=click.Path(path_type=Path),
              help="Resumable state and logs; rerun the same command to continue.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue the run in --run-dir if one exists.")
@click.option("--out", default=None, type=click.Path(path_type=Path),
              help="Checkpoint path [default: the package's weights/judge.safetensors].")
@json_option
@handle_errors
@usage_errors
def train_judge_command(size: str, steps: int, batch: int, lr: float, seed: int, ae_prob: float,
                        ae_from_step: int, no_ae: bool, threads: int, text_share: float,
                        random_words: float,
                        init: Path | None, train_only: str | None, eval_n: int, run_dir: Path,
                        resume: bool, out: Path | None, as_json: bool) -> None:
    """Train the judge network on rendered scenes (seeded, resumable, writes judge.md)."""
    from triptych.evaluation.judge_ceilings import judge_ceilings
    from triptych.judge.checkpoint import DEFAULT_PATH
    from triptych.judge.metrics import per_attribute
    from triptych.training.judge import TrainJudgeConfig, train_judge

    if train_only and not init:
        raise click.UsageError("--train-only text fine-tunes a trained judge: pass --init PATH.")
    cfg = TrainJudgeConfig(size=size, steps=steps, batch=batch, lr=lr, seed=seed, ae_prob=ae_prob,
                           ae_from_step=ae_from_step, threads=threads, eval_n=eval_n,
                           text_share=text_share, random_words=random_words,
                           init=str(init) if init else None,
                           train_only=train_only,
                           eval_every=max(1, min(250, steps)))
    out = out or DEFAULT_PATH
    info = train_judge(cfg, run_dir, out, use_ae=not no_ae, resume=resume,
                       log=(lambda _m: None) if as_json else console.print,
                       eval_ceiling=judge_ceilings)
    if as_json:
        emit_json({"checkpoint": str(out), "card": str(Path(out).with_suffix(".md")), **info})
        return
    console.print(f"Wrote {out} ({info['params']:,} params, {info['wall_time_s'] / 60:.1f} min)")
    for split, res in info["metrics"].items():
        for kind, m in res.items():
            shown = ", ".join(f"{k} {100 * v:.1f}%" for k, v in per_attribute(m).items())
            console.print(f"  {split}/{kind}: {shown}")


COMMANDS: list = []  # registered on the ``train`` group above
