"""OpenAPI ``responses=`` entries for the error statuses each route can answer."""

from __future__ import annotations

from typing import Any

from triptych.web.schemas import ErrorResponse, OpenAIErrorResponse

_DESCRIPTIONS = {
    400: "moderation_blocked (or another bad request)",
    401: "unauthorized: no valid API key or session",
    402: "insufficient_credits: says needed, available and renews_on",
    403: "forbidden: admin only, or a missing CSRF token on a cookie write",
    404: "not_found (another user's resource is not found too)",
    422: "invalid_request (field names the offending field) or idempotency_conflict",
    429: "rate_limited (Retry-After says when to come back)",
    502: "job_failed, or payment_provider_error (Stripe did not answer; nothing charged)",
    503: "model_unavailable",
}

AUTH = (401, 403, 422, 429)  # every authenticated route
GENERATE = (*AUTH, 400, 402, 404, 503)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


def openai_errors() -> dict[int | str, dict[str, Any]]:
    statuses = (400, 401, 403, 404, 429, 500, 503)
    return {s: {"model": OpenAIErrorResponse, "description": "OpenAI-style error"}
            for s in statuses}
