"""What an idempotency key may be, for every way in (REST, OpenAI-compatible, CLI, client).

A key is 1 to 200 printable ASCII characters (space to ``~``): it is stored in
``jobs.idempotency_key`` (``String(200)``), and a longer one used to reach the database,
which PostgreSQL refuses (a 500) while SQLite keeps it. An empty key is no key.
"""

from __future__ import annotations

import re

from triptych.db.models import Job
from triptych.errors import InvalidRequest

MAX_KEY_CHARS: int = Job.__table__.c.idempotency_key.type.length  # type: ignore[attr-defined]
_PRINTABLE = re.compile(r"[ -~]*")
FIELD = "Idempotency-Key"


def check_key(key: str | None) -> str | None:
    """The key to store, or None; ``InvalidRequest`` (field ``Idempotency-Key``) when it
    breaks the rules above."""
    if not key:
        return None
    if len(key) > MAX_KEY_CHARS:
        raise InvalidRequest(
            f"Idempotency-Key is {len(key)} characters long; use at most {MAX_KEY_CHARS} "
            "(a UUID is 36).", field=FIELD)
    if not _PRINTABLE.fullmatch(key):
        raise InvalidRequest(
            "Idempotency-Key may hold only printable ASCII characters (letters, digits, "
            "punctuation and spaces); a UUID works.", field=FIELD)
    return key
