"""Service-level errors. Each has a machine-readable ``code``, a human message that says what
to do next, an HTTP status for the API, and extra fields for scripts (``to_dict``)."""

from __future__ import annotations

from typing import Any


class TriptychError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.fields}


class InvalidRequest(TriptychError):
    code = "invalid_request"
    http_status = 422

    def __init__(self, message: str, *, field: str | None = None, **fields: Any) -> None:
        super().__init__(message, field=field, **fields)
        self.field = field


class NotFound(TriptychError):
    code = "not_found"
    http_status = 404


class InsufficientCredits(TriptychError):
    code = "insufficient_credits"
    http_status = 402

    def __init__(self, *, needed: int, available: int, renews_on: str) -> None:
        super().__init__(
            f"This needs {needed} credits but you have {available}. Your monthly allowance "
            f"renews on {renews_on}; an operator can also grant credits "
            f"(triptych credits grant USER N).",
            needed=needed,
            available=available,
            renews_on=renews_on,
        )


class ModerationBlocked(TriptychError):
    code = "moderation_blocked"
    http_status = 400

    def __init__(self, message: str, *, side: str, rule: str | None = None, **fields: Any):
        super().__init__(message, side=side, rule=rule, **fields)
        self.side = side
        self.rule = rule


class ModelUnavailable(TriptychError):
    code = "model_unavailable"
    http_status = 503


class IdempotencyConflict(TriptychError):
    code = "idempotency_conflict"
    http_status = 422


class TooManyJobs(TriptychError):
    code = "rate_limited"
    http_status = 429


class JobFailed(TriptychError):
    """A job ended without images; ``fields`` carry the job id and the engine's error code."""

    code = "job_failed"
    http_status = 502
