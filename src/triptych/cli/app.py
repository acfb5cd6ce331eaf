"""Builds the ``Triptych`` facade for a CLI invocation (one per process, cached)."""

from __future__ import annotations

import logging
from functools import lru_cache

from triptych.client import Triptych


@lru_cache(maxsize=1)
def _base() -> Triptych:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return Triptych()


def app(user_email: str | None = None) -> Triptych:
    base = _base()
    return base.as_user(user_email) if user_email else base
