"""``create_app(tp)``: the FastAPI application — REST API, OpenAI-compatible endpoint, web UI.

The app owns an ``InProcessExecutor`` (started with the app's lifespan, or by ``start()``
when the caller drives the app without one), so ``POST /v1/generations`` answers 202 at
once while a worker runs ``JobService.run_job`` — the same function the CLI and Celery use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer

from triptych import __version__
from triptych.client import Triptych
from triptych.service.executor import Executor, make_executor
from triptych.web import (
    openai_compat,
    pages,
    request_metrics,
    routes_admin,
    routes_auth,
    routes_catalog,
    routes_compare,
    routes_generations,
    routes_keys,
    routes_library,
    routes_ops,
)
from triptych.web.config import WebConfig, load_or_create_secret
from triptych.web.errors import install_error_handlers
from triptych.web.middleware import SecurityHeaders
from triptych.web.passwords import Passwords
from triptych.web.ratelimit import make_limiter
from triptych.web.state import HERE, WebState

DESCRIPTION = """Triptych's HTTP API. Authenticate with `Authorization: Bearer <API key>`
(create keys at `/account` or with `triptych keys create --user EMAIL`), or with the browser
session cookie plus the `X-CSRF-Token` header on writes. Errors are
`{"error": {"code", "message", ...}}`; `/v1/images/generations` follows OpenAI's contract."""


def create_app(tp: Triptych, config: WebConfig | None = None, *,
               executor: Executor | None = None) -> FastAPI:
    """Build the app around a ``Triptych`` (its database, engines and clock).

    Pass ``executor`` to share one you start and stop yourself; otherwise the app makes one
    for the app's lifetime: with ``TRIPTYCH_BROKER_URL`` set, a publisher to Celery workers
    (``triptych worker``); else the embedded executor with ``config.workers`` threads."""
    config = config or WebConfig.from_settings(tp.settings)
    secret = config.secret_key or load_or_create_secret(tp.settings.home)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    state = WebState(
        tp=tp, config=config,
        executor=executor or make_executor(tp, config.workers),
        passwords=Passwords(config),
        limiter=make_limiter(tp.settings.shared_redis_url, config.rate_per_minute,
                             config.rate_burst, name="api"),
        auth_limiter=make_limiter(tp.settings.shared_redis_url, config.auth_per_minute,
                                  config.auth_burst, name="auth"),
        templates=templates,
        csrf_signer=URLSafeTimedSerializer(secret, salt="triptych-form-csrf"),
        owns_executor=executor is None,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="Triptych", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # Swagger UI needs a CDN
    app.state.web = state
    install_error_handlers(app)
    for module in (routes_auth, routes_keys, routes_generations, routes_compare,
                   routes_catalog, routes_library, routes_admin, openai_compat):
        app.include_router(module.router)
    app.include_router(pages.router, include_in_schema=False)
    app.include_router(routes_ops.router, include_in_schema=False)  # docs/deploy.md
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(request_metrics.RequestMetrics)
    _document_openai_errors(app)
    return app


def _document_openai_errors(app: FastAPI) -> None:
    """FastAPI documents a 422 validation error on every route with a body; the
    OpenAI-compatible route answers validation errors with 400, as OpenAI does."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            operation = document["paths"][openai_compat.OPENAI_PATH]["post"]
            operation["responses"].pop("422", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
