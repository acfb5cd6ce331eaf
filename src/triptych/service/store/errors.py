"""What a store raises. ``StoreError`` is the one failure callers handle: the store could not
save, read or reach its objects (unwritable, full, unreachable, no credentials). Its message
is shown to users and says what failed, never where (no paths, endpoints or keys); ``detail``
carries the operator's view for the log. A location that names nothing is ``ObjectMissing``,
a 404 to whoever asked for it."""

from __future__ import annotations

from triptych.errors import NotFound, TriptychError


class StoreError(TriptychError):
    code = "storage_failed"
    http_status = 503

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail  # not in ``fields``: the API never shows it


class ObjectMissing(NotFound):
    def __init__(self, location: str) -> None:
        super().__init__("The stored file is gone.")
        self.location = location


def save_failed(reason: str, detail: str | None = None) -> StoreError:
    return StoreError(f"Could not save the image: {reason}.", detail=detail)


def read_failed(reason: str, detail: str | None = None) -> StoreError:
    return StoreError(f"Could not read the image: {reason}.", detail=detail)


def unavailable(reason: str, detail: str | None = None) -> StoreError:
    return StoreError(f"The image store is unavailable: {reason}.", detail=detail)


def os_reason(exc: OSError) -> str:
    """"no space left on device", "permission denied": the kernel's words, without the path."""
    return (exc.strerror or type(exc).__name__).lower()
