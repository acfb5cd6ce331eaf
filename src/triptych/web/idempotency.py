"""The ``Idempotency-Key`` header, read and checked the same way on every route that takes
it (``/v1/generations``, ``/v1/compare``, ``/v1/images/generations``): the rules live in
``service/idempotency.py``; a key that breaks them is ``invalid_request`` on the
``Idempotency-Key`` field (422 on REST routes, 400 in OpenAI's shape on the OpenAI route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from triptych.service.idempotency import MAX_KEY_CHARS, check_key


async def idempotency_key(  # no I/O: async, so no thread-pool hop
    key: Annotated[str | None, Header(
        alias="Idempotency-Key",
        description=(f"Same key + same body → the same job. 1–{MAX_KEY_CHARS} printable "
                     "ASCII characters (a UUID works)."))] = None,
) -> str | None:
    return check_key(key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
