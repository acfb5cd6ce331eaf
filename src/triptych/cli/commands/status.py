"""``triptych status``: what the deployment is doing, read from the database.

Live workers come from the worker registry (their own heartbeats), queues and job counts from
the jobs table, so the answer is the same from any machine that reaches the database.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option
from triptych.service import job_counts, worker_registry
from triptych.service.job_status import FINAL, IN_FLIGHT
from triptych.service.redact import redact_url


def gather(tp: Any) -> dict[str, Any]:
    settings = tp.settings
    now = tp.ctx.clock()
    with tp.ctx.sessions() as s:
        groups = job_counts.job_groups(s)
        live = worker_registry.alive(s, now)
        workers = [{
            "id": w.id, "hostname": w.hostname, "pid": w.pid,
            "pools": worker_registry.pools_of(w), "models": list(w.models or []),
            "concurrency": w.concurrency, "started_at": w.started_at.isoformat(),
            "last_seen": w.last_seen.isoformat(),
            "last_seen_seconds_ago": round(max(0.0, (now - w.last_seen).total_seconds()), 1),
        } for w in live]
    states = job_counts.by_state(groups)
    return {
        "executor": "celery" if settings.broker_url else "embedded",
        "broker": redact_url(settings.broker_url) if settings.broker_url else None,
        "database": redact_url(settings.resolved_database_url),
        "store": (redact_url(settings.store_url) if settings.store_url
                  else str(settings.image_dir)),
        "workers": workers,
        "queues": {pool: {"depth": q.depth, "oldest_age_seconds": round(q.oldest_age_seconds, 1)}
                   for pool, q in job_counts.queues(groups, tp.catalog, now).items()},
        "jobs": {state: states.get(state, 0) for state in (*IN_FLIGHT, *FINAL)},
    }


@click.command("status")
@json_option
@handle_errors
def status(as_json: bool) -> None:
    """Live workers, queue depth per pool, jobs by state, and where the broker is."""
    report = gather(app())
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

    queues = Table(title="Queues")
    for column in ("pool", "queued", "oldest"):
        queues.add_column(column)
    for pool, q in report["queues"].items():
        queues.add_row(pool, str(q["depth"]),
                       f"{q['oldest_age_seconds']:g} s" if q["depth"] else "-")
    console.print(queues)
    console.print("[bold]Jobs[/]     " + " · ".join(
        f"{state} {count}" for state, count in report["jobs"].items()), highlight=False)


COMMANDS = [status]
