"""The engine error taxonomy. Every engine failure is one of these, so the service can settle
the ledger and tell the user what to do without knowing which engine failed.

    EngineError
    ├── RetryableError            transient (timeout, 429, 5xx); the job may be retried
    │   └── OutOfMemoryError           a local model ran out of device memory for this job
    ├── ModerationError           blocked by a safety system; ``side`` is "input" or "output"
    ├── InvalidRequestError       a parameter the model cannot honour; ``field`` names it
    ├── ProviderUnavailableError  auth failure, outage, missing key or missing checkpoint
    │   ├── ProviderAuthError          the provider refused the operator's key
    │   └── ProviderOutOfCreditError   the operator's provider account is out of credit
    └── FatalError                anything else; not retried
        └── StorageFailedError    the images came back but could not be stored

Messages are shown to users and must never contain secrets. ``detail`` is for the operator log.
"""

from __future__ import annotations


class EngineError(Exception):
    code = "engine_error"
    retryable = False

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class RetryableError(EngineError):
    code = "engine_retryable"
    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class OutOfMemoryError(RetryableError):
    """A local model (``diffusers:``) ran out of GPU or CPU memory: smaller sizes, fewer
    images or another moment (other models unloaded) may fit."""

    code = "out_of_memory"


class ModerationError(EngineError):
    code = "moderation_blocked"

    def __init__(self, message: str, *, side: str = "input", detail: str | None = None) -> None:
        if side not in ("input", "output"):
            raise ValueError(f"side must be 'input' or 'output', not {side!r}")
        super().__init__(message, detail=detail)
        self.side = side


class InvalidRequestError(EngineError):
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, detail: str | None = None):
        super().__init__(message, detail=detail)
        self.field = field


class ProviderUnavailableError(EngineError):
    code = "provider_unavailable"


class ProviderAuthError(ProviderUnavailableError):
    """The provider refused the operator's key (invalid, expired, revoked or lacking
    permission), however it said so: 401/403, or a 400 body naming the key. Jobs see the same
    ``code`` as any unavailable provider; ``triptych providers check`` reports ``auth_failed``."""


class ProviderOutOfCreditError(ProviderUnavailableError):
    code = "provider_out_of_credit"


class FatalError(EngineError):
    code = "engine_failed"


class StorageFailedError(FatalError):
    """Raised by the job service, not an engine: the image store refused the result (full,
    unwritable, unreachable). It settles like any engine failure: failed and refunded."""

    code = "storage_failed"
