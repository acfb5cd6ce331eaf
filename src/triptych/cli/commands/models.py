"""``triptych models``: the catalog as a table; ``models add-local``: a catalog entry for a
pipeline folder on this machine (docs/local-models.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, err_console, handle_errors, json_option


@click.group("models", invoke_without_command=True)
@click.option("--tier", type=click.Choice(["instant", "fast", "medium", "premium"]))
@click.option("--capability", help="e.g. text-rendering, photorealism, design, vector.")
@click.option("--available/--unavailable", "available", default=None,
              help="Only models that can (or cannot) run here.")
@json_option
@click.pass_context
@handle_errors
def models(ctx: click.Context, tier: str | None, capability: str | None,
           available: bool | None, as_json: bool) -> None:
    """List every model: provider, family, speed tier, price and availability."""
    if ctx.invoked_subcommand is not None:
        return
    rows = app().models(tier=tier, capability=capability, available=available)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="Triptych models", show_lines=False)
    for column in ("id", "provider", "family", "tier", "credits", "best for", "available"):
        table.add_column(column, no_wrap=column in ("id", "credits", "tier"))
    for m in rows:
        status = "[green]yes[/]" if m["available"] else "[red]no[/]"
        table.add_row(m["id"], m["provider"], m["family"], m["tier"], str(m["credits"]),
                      ", ".join(m["best_for"]), status)
    console.print(table)
    missing = [m for m in rows if not m["available"]]
    if missing:
        console.print("Unavailable:", highlight=False)
        for m in missing:
            console.print(f"  {m['id']}: {m['unavailable_reason']}", highlight=False)


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
              help="Append the entry to this operator catalog file; default: print it.")
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


COMMANDS = [models]
