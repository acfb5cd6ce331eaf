"""Errors over HTTP.

REST errors are ``{"error": {"code", "message", ...fields}}`` with the status of the service
error (``triptych.errors``): ``insufficient_credits`` 402 (needed/available/renews_on, and
``buy_url`` when the operator has a payment page; the message says how to get credits, never
the operator's CLI),
``moderation_blocked`` 400, ``invalid_request`` 422 (``field``), ``not_found`` 404,
``rate_limited`` 429 (``Retry-After``), ``unauthorized`` 401, ``forbidden`` 403,
``database_busy`` 503 (``Retry-After``: SQLite stayed locked by another process for the whole
busy timeout; nothing was done, the request may be retried as it is).

The OpenAI-compatible route answers in OpenAI's ``{"error": {message, type, param, code}}``
shape instead (see ``openai_compat``), chosen by path so that errors raised before the route
runs (authentication, validation) get the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from triptych.db.engine import DatabaseBusy, as_busy
from triptych.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidRequest,
    JobFailed,
    ModelUnavailable,
    ModerationBlocked,
    SpendCapReached,
    TooManyJobs,
    TriptychError,
)
from triptych.web.readable import day

log = logging.getLogger("triptych.web")

OPENAI_PATH = "/v1/images/generations"


class Unauthorized(TriptychError):
    code = "unauthorized"
    http_status = 401


class Forbidden(TriptychError):
    code = "forbidden"
    http_status = 403


class RateLimited(TriptychError):
    code = "rate_limited"
    http_status = 429


class UnsupportedMediaType(TriptychError):
    code = "unsupported_media_type"
    http_status = 415


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


def validation_to_invalid(exc: RequestValidationError,
                          request: Request | None = None) -> TriptychError:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "Invalid request."}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":  # loc is ("body", character offset)
        return InvalidRequest(_json_problem(exc.body, loc, first), field=None)
    if loc == ("body",) and isinstance(first.get("input"), bytes) and request is not None:
        # FastAPI leaves the body unparsed (bytes) when it is not sent as JSON.
        sent = request.headers.get("content-type") or "none"
        return UnsupportedMediaType(
            f"Send the body as JSON with 'Content-Type: application/json' (got '{sent}').",
            field="Content-Type")
    field = _field_of(loc)
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return InvalidRequest(message, field=field)


def _json_problem(doc: Any, loc: tuple[Any, ...], error: dict[str, Any]) -> str:
    """"Request body is not valid JSON: Expecting ',' delimiter at line 1 column 12"."""
    reason = (error.get("ctx") or {}).get("error") or "it does not parse"
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8", "replace")
    if pos is None or not isinstance(doc, str):
        return f"Request body is not valid JSON: {reason}."
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"Request body is not valid JSON: {reason} at line {line} column {column}."


def _headers(exc: TriptychError) -> dict[str, str]:
    headers: dict[str, str] = {}
    retry_after = exc.fields.get("retry_after")
    if isinstance(exc, DatabaseBusy):
        retry_after = exc.retry_after  # a header only: the body stays {code, message}
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="triptych"'
    return headers


def rest_error(exc: TriptychError) -> JSONResponse:
    body = {k: v for k, v in exc.to_dict().items() if v is not None or k == "field"}
    return JSONResponse({"error": body}, status_code=exc.http_status, headers=_headers(exc))


def openai_error(exc: TriptychError) -> JSONResponse:
    """Map a service error onto OpenAI's error contract (provider-contracts.md §0, §7.4)."""
    status, kind, code = 400, "invalid_request_error", exc.code
    param = exc.fields.get("field")
    extra: dict[str, Any] = {}
    retry = "false"  # only transient failures may be retried by the client
    if isinstance(exc, InvalidRequest | IdempotencyConflict):
        if param == "model":
            status, code = 404, "model_not_found"
    elif isinstance(exc, ModerationBlocked):
        kind = "image_generation_user_error"
        extra["moderation_details"] = {"moderation_stage": exc.side, "rule": exc.rule}
    elif isinstance(exc, InsufficientCredits):
        # OpenAI answers 429 insufficient_quota when an account is out of credit; the header
        # stops the official client from retrying (it would retry a bare 429).
        status, kind = 429, "insufficient_quota"
        extra.update({k: exc.fields[k] for k in ("needed", "available", "renews_on",
                                                  "buy_url") if k in exc.fields})
    elif isinstance(exc, SpendCapReached):  # the key's own quota: as out of credit
        status, kind = 429, "insufficient_quota"
        extra.update({k: exc.fields[k] for k in ("cap", "spent", "needed", "resets_on")})
    elif isinstance(exc, TooManyJobs | RateLimited):
        status, kind, retry = 429, "rate_limit_error", "true"
    elif isinstance(exc, Unauthorized):
        status, code = 401, "invalid_api_key"
    elif isinstance(exc, UnsupportedMediaType):
        status = 415
    elif isinstance(exc, Forbidden):
        status, kind = 403, "permission_error"
    elif exc.http_status == 404:
        status = 404
    elif isinstance(exc, ModelUnavailable):
        status, kind = 503, "server_error"
    elif isinstance(exc, DatabaseBusy):
        status, kind, retry = 503, "server_error", "true"
    elif isinstance(exc, JobFailed):
        status, kind = 500, "server_error"
        code = exc.fields.get("reason") or exc.code
        retry = "true" if code == "engine_retryable" else "false"
    elif exc.http_status >= 500:
        status, kind = exc.http_status, "server_error"
    headers = {**_headers(exc), "x-should-retry": retry}
    if isinstance(exc, Unauthorized):
        headers.pop("WWW-Authenticate", None)
    body = {"error": {"message": exc.message, "type": kind, "param": param, "code": code,
                      **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def _is_openai(request: Request) -> bool:
    return request.url.path.rstrip("/") == OPENAI_PATH


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/v1/", "/static/", "/openapi.json"))


def _to_end_user(request: Request, exc: InsufficientCredits) -> InsufficientCredits:
    """Out of credits, worded for the person at the other end (never the operator's CLI):
    the payment page when the operator has one, else their administrator."""
    tp = request.app.state.web.tp
    more = tp.accounts.more_credits()
    extra = {"buy_url": more.buy_url} if more.buy_url else {}
    remedy = more.sentence()
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.is_admin and not more.buy_url:
        remedy = "As an administrator, you can grant yourself credits on the admin page."
    return exc.for_end_user(remedy, renews=day(exc.fields["renews_on"]), **extra)


def render(request: Request, exc: TriptychError) -> Response:
    if isinstance(exc, InsufficientCredits):
        exc = _to_end_user(request, exc)
    if _is_openai(request):
        return openai_error(exc)
    if _is_page(request):
        if isinstance(exc, Unauthorized):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        templates = request.app.state.web.templates
        user = getattr(request.state, "principal", None)
        return templates.TemplateResponse(
            request, "error.html", {"error": exc.to_dict(), "status": exc.http_status,
                                    "user": user, "balance": None, "page": "error",
                                    "csrf_token": user.csrf_token if user else None},
            status_code=exc.http_status, headers=_headers(exc))
    return rest_error(exc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TriptychError)
    async def _triptych(request: Request, exc: TriptychError) -> Response:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return render(request, validation_to_invalid(exc, request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # a body that is not JSON (or not UTF-8) at all
            return render(request, InvalidRequest(f"body: {exc.detail}", field="body"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        error = TriptychError(str(exc.detail))
        error.code, error.http_status = code, exc.status_code
        response = render(request, error)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> Response:
        busy = as_busy(exc)
        if busy is None:
            return await _unexpected(request, exc)
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
        return render(request, busy)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = TriptychError("Something went wrong on our side; it has been logged.")
        error.code, error.http_status = "internal_error", 500
        return render(request, error)
