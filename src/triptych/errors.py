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
    # Where the person reading the message gets more: the CLI's reader is the operator.
    OPERATOR_REMEDY = "an operator can also grant credits (triptych credits grant USER N)."

    def __init__(self, *, needed: int, available: int, renews_on: str,
                 remedy: str = OPERATOR_REMEDY, **fields: Any) -> None:
        super().__init__(
            f"This needs {needed} credits but you have {available}. Your monthly allowance "
            f"renews on {renews_on}; {remedy}",
            needed=needed,
            available=available,
            renews_on=renews_on,
            **fields,
        )

    def for_end_user(self, remedy: str, renews: str | None = None,
                     **fields: Any) -> InsufficientCredits:
        """The same refusal worded for someone who is not the operator (the web, the API):
        ``remedy`` says how they get credits, ``renews`` is the renewal date in words;
        ``fields`` (e.g. ``buy_url``) ride along for scripts."""
        f = self.fields
        error = InsufficientCredits(needed=f["needed"], available=f["available"],
                                    renews_on=f["renews_on"], remedy=remedy, **fields)
        error.message = (f"This needs {f['needed']} credits but you have {f['available']}. "
                         f"{remedy} Your free monthly credits renew on "
                         f"{renews or f['renews_on']}.")
        error.args = (error.message,)
        return error


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


class AccountDisabled(TriptychError):
    code = "account_disabled"
    http_status = 403

    def __init__(self) -> None:
        super().__init__("This account is disabled. Ask your administrator.")


class SpendCapReached(TriptychError):
    """An API key's monthly spend cap would be passed (checked with the hold)."""

    code = "spend_cap_reached"
    http_status = 402

    def __init__(self, *, cap: int, spent: int, needed: int, resets_on: str,
                 key_id: str) -> None:
        super().__init__(
            f"This API key has a monthly spend cap of {cap} credits; {spent} are spent or "
            f"held this month and this request needs {needed}. The cap resets on "
            f"{resets_on}; until then, use a key with a higher cap.",
            cap=cap, spent=spent, needed=needed, resets_on=resets_on, key_id=key_id)
