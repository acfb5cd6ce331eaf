"""``triptych models add-local``: a catalog entry for a diffusers pipeline folder on this
machine (docs/local-models.md). A subcommand of ``triptych models``, kept in its own module."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from triptych.cli.commands.models import models
from triptych.cli.output import console, err_console


@models.command("add-local")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--id", "model_id", required=True, help="The new model's id.")
@click.option("--credits", type=click.IntRange(min=0), required=True,
              help="Credits per image.")
@click.option("--tier", type=click.Choice(["instant", "fast", "medium", "premium"]),
              help="Speed tier; default: the family's.")
@click.option("--name", help="Display name; default: the folder's name.")
@click.option("--device", default="auto", show_default=True,
              help="auto, cpu, mps, cuda or cuda:N.")
@click.option("--dtype", type=click.Choice(["auto", "float32", "float16", "bfloat16"]),
              default="auto", show_default=True)
@click.option("--offload", type=click.Choice(["none", "model", "sequential"]), default="none",
              show_default=True, help="CPU offload for cards with little memory.")
@click.option("--write", "write", type=click.Path(path_type=Path),
              help="Append the entry to this catalog file (one TRIPTYCH_CATALOG names); "
                   "default: print it.")
def add_local(path: Path, model_id: str, credits: int, tier: str | None, name: str | None,
              device: str, dtype: str, offload: str, write: Path | None) -> None:
    """Make a catalog entry for a diffusers pipeline folder (save_pretrained layout or a
    Hugging Face cache entry): family, steps, guidance and sizes from its model_index.json."""
    from triptych.engines.diffusers_engine.catalog_entry import append_entry, catalog_entry
    from triptych.engines.diffusers_engine.folder import FolderProblem

    try:
        text = catalog_entry(path, model_id, credits, tier=tier, name=name, device=device,
                             dtype=dtype, offload=offload)
        if write is not None:
            append_entry(write, text)
    except (FolderProblem, ValueError) as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    if write is None:
        click.echo(text, nl=False)
    else:
        console.print(f"Added [bold]{model_id}[/] to {write}.", highlight=False)


COMMANDS: list[click.Command] = []  # registered on the models group above
