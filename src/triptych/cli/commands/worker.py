"""``triptych worker``: run catalog models for a server that has TRIPTYCH_BROKER_URL set."""

from __future__ import annotations

import click


@click.command("worker")
@click.option("--models", "patterns", default="", show_default=False,
              help="Comma-separated model ids (globs such as 'pico-*'), pools (builtin, "
                   "hosted, gpu) or providers; default: every model in the catalog.")
@click.option("--concurrency", type=int, default=None,
              help="Jobs at once (default: TRIPTYCH_BATCH_MAX threads for built-in and GPU "
                   "models while batching is on, else 1; 32 for hosted).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve this worker's Prometheus metrics on this port (/metrics).")
@click.option("--name", default=None, help="Worker name (default: triptych-<random>@<host>).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def worker(patterns: str, concurrency: int | None, metrics_port: int | None, name: str | None,
           log_level: str) -> None:
    """Take jobs from the broker (TRIPTYCH_BROKER_URL) and run them; SIGTERM finishes the
    current job first."""
    import logging

    from triptych.client import Triptych
    from triptych.service.distributed.worker import run_worker
    from triptych.service.store import StoreError
    from triptych.settings import Settings

    if not Settings().broker_url:
        raise click.UsageError("Set TRIPTYCH_BROKER_URL (redis://… or amqp://…) first: "
                               "without a broker, `triptych serve` runs the models itself.")
    if concurrency is not None and concurrency < 1:
        raise click.BadParameter("must be at least 1", param_hint="--concurrency")
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_worker(Triptych, [p.strip() for p in patterns.split(",") if p.strip()], concurrency,
                   loglevel=log_level.upper(), name=name, metrics_port=metrics_port)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except StoreError as exc:
        raise click.ClickException(f"{exc.message} Check TRIPTYCH_STORE_URL (or "
                                   "TRIPTYCH_HOME) on this machine.") from None


COMMANDS = [worker]
