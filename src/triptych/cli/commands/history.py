"""``triptych history`` and ``triptych show``: what you made, searchable."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option, user_option


@click.command("history")
@click.argument("query", required=False)
@click.option("--model", help="Only this model.")
@click.option("--since", type=click.DateTime(), help="From this date (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(), help="Before this date.")
@click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed",
                                             "canceled"]))
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0)
@user_option
@json_option
@handle_errors
def history(query, model, since: datetime | None, until, status, limit, offset, user_email,
            as_json) -> None:
    """Search your generations by prompt text (QUERY), model and date."""
    rows = app(user_email).history(query, model=model, since=since, until=until, status=status,
                                   limit=limit, offset=offset)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("No generations match.")
        return
    table = Table()
    for column in ("job", "when", "model", "status", "credits", "prompt", "image"):
        table.add_column(column)
    for job in rows:
        image = job["images"][0]["path"] if job["images"] else ""
        table.add_row(job["id"][:12], job["created_at"].replace("T", " "), job["model"],
                      job["status"], str(job["charged"]), job["prompt"][:50], image)
    console.print(table)


@click.command("show")
@click.argument("job_id")
@user_option
@json_option
@handle_errors
def show(job_id, user_email, as_json) -> None:
    """Show one generation's full record (JOB_ID may be the first 8+ characters)."""
    tp = app(user_email)
    if len(job_id) < 32:
        matches = [j for j in tp.history(limit=10_000) if j["id"].startswith(job_id)]
        if len(matches) == 1:
            job_id = matches[0]["id"]
    job = tp.job(job_id)
    if as_json:
        emit_json(job)
        return
    for key in ("id", "status", "model", "prompt", "seed", "size", "steps", "cost", "charged",
                "seconds", "created_at", "parent_job_id", "compare_id"):
        if job.get(key) is not None:
            console.print(f"[bold]{key:>14}[/] {job[key]}", highlight=False)
    if job["error"]:
        console.print(f"[bold red]{'error':>14}[/] {job['error']['message']}", highlight=False)
    for image in job["images"]:
        console.print(f"[bold]{'image':>14}[/] {image['path']}", highlight=False)


COMMANDS = [history, show]
