"""Shared CLI plumbing: ``--json`` and ``--user`` options, output, and error rendering.

Every command takes ``--json``; with it, results *and errors* are JSON on stdout so scripts
never parse prose. Errors exit with status 1 (2 for usage errors, as click does).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
user_option = click.option(
    "--user", "user_email", default=None, metavar="EMAIL",
    help="Act as this account (default: the local account, created on first use).",
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def error_payload(exc: Exception) -> dict[str, Any]:
    to_dict = getattr(exc, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return {"code": getattr(exc, "code", "error"), "message": str(exc)}


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Render Triptych errors as a clear message (or JSON with ``--json``) and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from triptych.db.engine import busy_as_error
        from triptych.engines.errors import EngineError
        from triptych.errors import TriptychError

        try:
            with busy_as_error():  # a locked database: a clear message, not a traceback
                return func(*args, **kwargs)
        except (TriptychError, EngineError) as exc:
            if kwargs.get("as_json"):
                emit_json({"error": error_payload(exc)})
            else:
                err_console.print(f"[bold red]Error:[/] {exc}", highlight=False)
            sys.exit(1)

    return wrapper
