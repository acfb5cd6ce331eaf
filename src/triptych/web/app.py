"""``create_app(tp)``: the FastAPI application — REST API, OpenAI-compatible endpoint, web UI.

The app owns an ``InProcessExecutor`` (started with the app's lifespan, or by ``start()``
when the caller drives the app without one), so ``POST /v1/generations`` answers 202 at
once while a worker runs ``JobService.run_job`` — the same function the CLI and Celery use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer

from triptych import __version__
from triptych.client import Triptych
from triptych.service.executor import Executor, make_executor
from triptych.service.requests import MAX_PROMPT_CHARS
from triptych.web import (
    api_docs,
    openai_compat,
    openapi_security,
    pages,
    readable,
    request_metrics,
    routes_admin,
    routes_auth,
    routes_catalog,
    routes_compare,
    routes_generations,
    routes_keys,
    routes_library,
    routes_ops,
    routes_payments,
)
from triptych.web.body_limit import BodyLimit
from triptych.web.client_ip import ForwardedProto
from triptych.web.config import WebConfig, load_or_create_secret
from triptych.web.deps import current_user
from triptych.web.errors import install_error_handlers
from triptych.web.mail import mailer_for
from triptych.web.middleware import SecurityHeaders
from triptych.web.passwords import Passwords
from triptych.web.ratelimit import make_limiter
from triptych.web.signup_limits import SignupLimits
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
        signup_limits=SignupLimits.from_config(config, tp.settings.shared_redis_url),
        mailer=mailer_for(tp),
        owns_executor=executor is None,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the thread pool FastAPI runs plain ``def`` routes and dependencies on (per loop)
        to_thread.current_default_thread_limiter().total_tokens = tp.settings.api_threads
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="Triptych", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # /docs: api_docs
    app.state.web = state
    install_error_handlers(app)
    for module in (routes_auth, routes_keys, routes_generations, routes_compare,
                   routes_catalog, routes_library, routes_admin, routes_payments,
                   openai_compat):
        app.include_router(module.router)
    app.include_router(pages.router, include_in_schema=False)
    app.include_router(routes_ops.router, include_in_schema=False)  # docs/deploy.md
    app.include_router(api_docs.router, include_in_schema=False)
    app.mount(api_docs.ASSETS_URL, StaticFiles(directory=str(api_docs.ASSETS)), name="docs")
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(request_metrics.RequestMetrics)
    app.add_middleware(ForwardedProto, trusted_proxies=config.trusted_proxies)
    # Added last, so outermost: an oversized body is refused before anything reads it.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    templates.env.globals["MAX_PROMPT_CHARS"] = MAX_PROMPT_CHARS  # one limit, every form
    templates.env.filters["day"] = readable.day  # "1 January", not an ISO date
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """FastAPI documents a 422 validation error on every route with a body; the
    OpenAI-compatible route answers validation errors with 400, as OpenAI does. Every route
    with a JSON body may answer 415 (a body not sent as JSON). Routes that need a caller say
    how to be one (``openapi_security``)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            for path, methods in document["paths"].items():
                for operation in methods.values():
                    if "requestBody" not in operation:
                        continue
                    model = ("OpenAIErrorResponse" if path == openai_compat.OPENAI_PATH
                             else "ErrorResponse")
                    operation["responses"]["415"] = {
                        "description": "unsupported_media_type: send the body as JSON",
                        "content": {"application/json": {"schema": {
                            "$ref": f"#/components/schemas/{model}"}}}}
            operation = document["paths"][openai_compat.OPENAI_PATH]["post"]
            operation["responses"].pop("422", None)
            openapi_security.add_security(app, document, current_user)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
