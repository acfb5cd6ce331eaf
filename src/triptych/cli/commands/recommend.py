"""``triptych recommend``: which model fits this prompt, and why."""

from __future__ import annotations

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option, user_option


@click.command("recommend")
@click.argument("prompt")
@click.option("--budget", type=int, help="Most credits you want to spend per image.")
@click.option("--speed", type=click.Choice(["instant", "fast", "medium", "any"]), default="any",
              show_default=True, help="Slowest tier you accept.")
@click.option("--all", "include_unavailable", is_flag=True,
              help="Also rank models that cannot run here (no key, no checkpoint).")
@click.option("--limit", type=int, default=5, show_default=True)
@user_option
@json_option
@handle_errors
def recommend(prompt, budget, speed, include_unavailable, limit, user_email, as_json) -> None:
    """Rank models for PROMPT with the reasons: intent detected, credits, tier."""
    out = app(user_email).recommend(prompt, budget=budget, speed=speed,
                                    include_unavailable=include_unavailable, limit=limit)
    if as_json:
        emit_json(out)
        return
    detected = [i for i in out["intents"] if i["score"] >= 0.45]
    if detected:
        console.print("Intent: " + ", ".join(f"{i['label']} ({i['score']:.2f})"
                                             for i in detected), highlight=False)
    if not out["recommendations"]:
        console.print("[yellow]No model fits these limits.[/] Try a larger --budget, a slower "
                      "--speed, or --all to see models that need a provider key.")
    for rank, rec in enumerate(out["recommendations"], 1):
        flag = "" if rec["available"] else " [red](unavailable)[/]"
        console.print(f"[bold]{rank}. {rec['name']}[/] ({rec['model']}){flag}", highlight=False)
        for reason in rec["reasons"]:
            console.print(f"   - {reason}", highlight=False)


COMMANDS = [recommend]
