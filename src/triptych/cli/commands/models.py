"""``triptych models``: the catalog as a table; ``check`` validates the operator's catalog
files; ``set-price``, ``disable``, ``enable`` and ``reset`` change a model at run time (every
process sees it; the audit log records it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, err_console, handle_errors, json_option
from triptych.errors import InvalidRequest


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


@models.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@json_option
def check(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate catalog files (default: those TRIPTYCH_CATALOG names) and say what each one
    adds and changes. Exits 1 on any error."""
    from triptych.catalog.loader import builtin_catalog
    from triptych.catalog.operator_files import CatalogFileError, merge_files
    from triptych.engines.registry import binding_problem
    from triptych.settings import Settings

    paths = tuple(files) or Settings().catalog_files
    base = builtin_catalog()
    try:
        cards, reports = merge_files(list(base), paths, engine_check=binding_problem)
    except CatalogFileError as exc:
        if as_json:
            emit_json({"ok": False, "problems": [p.public() for p in exc.problems]})
        else:
            for problem in exc.problems:
                err_console.print(f"[red]error[/] {problem}", highlight=False,
                                  soft_wrap=True)
            err_console.print(f"{len(exc.problems)} error(s); nothing was loaded.")
        sys.exit(1)
    if as_json:
        emit_json({"ok": True, "models": len(cards), "files": [r.public() for r in reports]})
        return
    if not paths:
        console.print(f"No catalog files: TRIPTYCH_CATALOG is unset. The built-in catalog "
                      f"has {len(cards)} models.", highlight=False)
        return
    by_id = {card.id: card for card in cards}
    for report in reports:
        console.print(f"[bold]{report.path}[/]: ok", highlight=False)
        for model_id in report.added:
            card = by_id[model_id]
            console.print(f"  adds {model_id} ({card.name}, {card.engine}, {card.tier}, "
                          f"{card.credits} credits per image)", highlight=False,
                          soft_wrap=True)
        for model_id, fields in report.changed.items():
            switch = fields.pop("enabled", None)
            if switch is not None:
                console.print(f"  turns {model_id} {'on' if switch[1] else 'off'}",
                              highlight=False)
            if fields:
                what = ", ".join(f"{name} {_short(old)} -> {_short(new)}"
                                 for name, (old, new) in fields.items())
                console.print(f"  changes {model_id}: {what}", highlight=False,
                              soft_wrap=True)
        if not report.added and not report.changed:
            console.print("  changes nothing", highlight=False)
    console.print(f"{len(cards)} models in all ({len(base)} built in).", highlight=False)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _actor(as_email: str | None):
    """Who the change is recorded under: an admin account (``--as``), else the operator at
    this command line."""
    from triptych.service.audit import Actor

    if not as_email:
        return Actor.cli()
    member = app().accounts.by_email(as_email)
    if member.role != "admin":
        raise InvalidRequest(f"{member.email} is not an admin; name an admin account with "
                             f"--as, or leave it out to act as the command line's operator.",
                             field="as")
    return Actor(member.id, member.email)


as_option = click.option("--as", "as_email", metavar="EMAIL", default=None,
                         help="Record the change under this admin account (default: "
                              "cli:<your login name>).")


def _show(row, as_json: bool, said: str) -> None:
    if as_json:
        emit_json({"id": row.id, "credits": row.credits, "enabled": row.enabled,
                   "card_credits": row.card_credits, "card_enabled": row.card_enabled})
    else:
        console.print(said, highlight=False)


@models.command("set-price")
@click.argument("model_id", metavar="ID")
@click.argument("credits", type=int)
@as_option
@json_option
@handle_errors
def set_price(model_id: str, credits: int, as_email: str | None, as_json: bool) -> None:
    """Charge CREDITS per image on model ID for new jobs (held jobs keep their price)."""
    row = app().admin.set_price(model_id, credits, _actor(as_email))
    _show(row, as_json, f"{row.name} now costs {row.credits} credits per image for new jobs "
                        f"(card: {row.card_credits}). Jobs already held keep their price.")


@models.command("disable")
@click.argument("model_id", metavar="ID")
@as_option
@json_option
@handle_errors
def disable(model_id: str, as_email: str | None, as_json: bool) -> None:
    """Turn model ID off: it refuses new jobs; queued and running ones finish."""
    row = app().admin.set_enabled(model_id, False, _actor(as_email))
    _show(row, as_json, f"{row.name} is off: it takes no new jobs (those already queued or "
                        f"running finish).")


@models.command("enable")
@click.argument("model_id", metavar="ID")
@as_option
@json_option
@handle_errors
def enable(model_id: str, as_email: str | None, as_json: bool) -> None:
    """Turn model ID back on for new jobs."""
    row = app().admin.set_enabled(model_id, True, _actor(as_email))
    _show(row, as_json, f"{row.name} is on: it takes new jobs.")


@models.command("reset")
@click.argument("model_id", metavar="ID")
@as_option
@json_option
@handle_errors
def reset(model_id: str, as_email: str | None, as_json: bool) -> None:
    """Drop the run-time price and switch of model ID: its card applies again."""
    row = app().admin.reset_model(model_id, _actor(as_email))
    _show(row, as_json, f"{row.name} follows its card again: {row.credits} credits, "
                        f"{'on' if row.enabled else 'off'}.")


COMMANDS = [models]
