"""``triptych serve``: the HTTP API, the OpenAI-compatible endpoint and the web UI."""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "job_workers", default=None, type=int,
              help="Job executor threads (default: TRIPTYCH_WORKERS); unused when "
                   "TRIPTYCH_BROKER_URL sends jobs to `triptych worker` processes.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str, port: int, job_workers: int | None, log_level: str) -> None:
    """Serve Triptych over HTTP: browser UI at /, API under /v1, OpenAPI at /openapi.json."""
    import uvicorn

    from triptych.cli.app import app as facade
    from triptych.web.app import create_app
    from triptych.web.config import WebConfig

    tp = facade()
    config = WebConfig.from_settings(tp.settings)
    if job_workers:
        config.workers = job_workers
    application = create_app(tp, config)
    click.echo(f"Triptych on http://{host}:{port}/  (API: /v1, OpenAPI: /openapi.json)")
    if tp.settings.broker_url:
        click.echo("Jobs run in `triptych worker` processes (TRIPTYCH_BROKER_URL is set).")
    # proxy_headers=False: uvicorn would believe X-Forwarded-For from 127.0.0.1; the app
    # decides whom to believe (TRIPTYCH_TRUSTED_PROXIES, web/client_ip.py).
    uvicorn.run(application, host=host, port=port, log_level=log_level,
                timeout_graceful_shutdown=5, proxy_headers=False)


COMMANDS = [serve]
