"""``triptych status``: what the deployment is doing, read from the database.

Live workers come from the worker registry (their own heartbeats), queues and job counts from
the jobs table, so the answer is the same from any machine that reaches the database.
"""

from __future__ import annotations

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option


@click.command("status")
@json_option
@handle_errors
def status(as_json: bool) -> None:
    """Live workers, resident local models, queue depth per pool, jobs by state, and where
    the broker is."""
    report = app().deployment_status()
    if as_json:
        emit_json(report)
        return
    broker = report["broker"] or "embedded executor (jobs run inside `triptych serve`)"
    for label, value in (("Broker", broker), ("Database", report["database"]),
                         ("Store", report["store"])):
        console.print(f"[bold]{label:<9}[/] {value}", highlight=False)

    workers = report["workers"]
    if workers:
        table = Table(title=f"Live workers ({len(workers)})")
        for column in ("id", "host", "pools", "models", "concurrency", "last seen"):
            table.add_column(column, no_wrap=column in ("id", "concurrency", "last seen"))
        for w in workers:
            table.add_row(w["id"], w["hostname"], ", ".join(w["pools"]),
                          ", ".join(w["models"]), str(w["concurrency"]),
                          f"{w['last_seen_seconds_ago']:g} s ago")
        console.print(table)
    elif report["broker"]:
        console.print("[yellow]No live worker.[/] Start one: triptych worker --models …",
                      highlight=False)

    _residency(report)

    queues = Table(title="Queues")
    for column in ("pool", "queued", "oldest"):
        queues.add_column(column)
    for pool, q in report["queues"].items():
        queues.add_row(pool, str(q["depth"]),
                       f"{q['oldest_age_seconds']:g} s" if q["depth"] else "-")
    console.print(queues)
    console.print("[bold]Jobs[/]     " + " · ".join(
        f"{state} {count}" for state, count in report["jobs"].items()), highlight=False)


def _gib(n: int | None) -> str:
    return "no limit" if n is None else f"{n / 1024**3:.2f} GiB"


def _residency(report: dict) -> None:
    """Local models each worker (or this process) has loaded, and each device's budget."""
    holders = [(w["id"], w["residency"]) for w in report["workers"] if w.get("residency")]
    if report.get("residency"):
        holders.append(("this process", report["residency"]))
    if not any(r["models"] or r["devices"] for _, r in holders):
        return
    table = Table(title="Resident models")
    for column in ("where", "model", "device", "size", "in use", "idle"):
        table.add_column(column)
    for where, r in holders:
        for m in r["models"]:
            table.add_row(where, m["model"], m["device"], _gib(m["bytes"]),
                          "yes" if m["in_use"] else "no", f"{m['idle_seconds']:g} s")
        for device, d in r["devices"].items():
            over = " [red]over budget[/]" if d["over_budget"] else ""
            table.add_row(where, "[dim]budget[/]", device,
                          f"{_gib(d['used_bytes'])} of {_gib(d['budget_bytes'])}{over}", "", "")
    console.print(table)


COMMANDS = [status]
