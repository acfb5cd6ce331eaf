"""The catalog as every process sees it: the cards (built-in catalog plus the operator's
files) with the admins' run-time overrides (price, on/off) from the database applied.

The database is the source of truth. Each process re-reads the overrides at most every
``Settings.catalog_refresh_seconds``, so what pages and quotes show may be that old; a submit
reads the rows of the models it holds for inside its own transaction (``effective``), so the
price a job holds, and whether the model takes it, are never stale. A job keeps the price it
was quoted and held (``jobs.cost``): later changes never touch it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from triptych.catalog.card import ModelCard
from triptych.catalog.loader import Catalog
from triptych.db.operator_models import ModelOverride

log = logging.getLogger("triptych.catalog")


@dataclass(frozen=True)
class Override:
    credits: int | None
    enabled: bool | None


def apply(card: ModelCard, override: Override | None) -> ModelCard:
    if override is None:
        return card
    update = {}
    if override.credits is not None and override.credits != card.credits:
        update["credits"] = override.credits
    if override.enabled is not None and override.enabled != card.enabled:
        update["enabled"] = override.enabled
    return card.model_copy(update=update) if update else card


# Read by every submit: a Core statement built once.
_ALL = select(ModelOverride.model_id, ModelOverride.credits, ModelOverride.enabled)
_SOME = _ALL.where(ModelOverride.model_id.in_(bindparam("ids", expanding=True)))


def read_overrides(session: Session, model_ids: list[str] | None = None) -> dict[str, Override]:
    conn = session.connection()
    rows = conn.execute(_ALL) if model_ids is None else conn.execute(_SOME, {"ids": model_ids})
    return {row.model_id: Override(row.credits, row.enabled) for row in rows}


def _read_outside_transactions(engine: Engine) -> dict[str, Override]:
    """All overrides, read on a pooled DBAPI connection of its own. Not through a session:
    the caller may be inside a transaction already, and on SQLite a session's
    ``BEGIN IMMEDIATE`` would wait on that very transaction; a bare SELECT in WAL mode
    takes no lock."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT model_id, credits, enabled FROM model_overrides")
        rows = cursor.fetchall()
        cursor.close()
        raw.rollback()  # PostgreSQL opened a read transaction; end it before the pool does
    finally:
        raw.close()
    return {model_id: Override(credits, None if enabled is None else bool(enabled))
            for model_id, credits, enabled in rows}


class LiveCatalog(Catalog):
    def __init__(self, base: Catalog, engine: Engine, refresh_seconds: float) -> None:
        super().__init__(list(base))
        self.base = base
        self._engine = engine
        self._refresh = refresh_seconds
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        self.overrides: dict[str, Override] = {}

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self._refresh:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < self._refresh:
                return  # another thread just read them
            try:
                overrides = _read_outside_transactions(self._engine)
            except Exception:
                if self._loaded_at == float("-inf"):
                    raise
                log.warning("could not re-read catalog overrides; keeping the last ones",
                            exc_info=True)
                self._loaded_at = time.monotonic()
                return
            self.overrides = overrides
            self._cards = {card.id: apply(card, overrides.get(card.id)) for card in self.base}
            self._loaded_at = time.monotonic()

    def expire(self) -> None:
        """Re-read on the next look-up (this process just changed an override)."""
        self._loaded_at = float("-inf")

    def __iter__(self):
        self._fresh()
        return super().__iter__()

    def __len__(self) -> int:
        self._fresh()
        return super().__len__()

    def __contains__(self, model_id: object) -> bool:
        self._fresh()
        return super().__contains__(model_id)

    def get(self, model_id: str) -> ModelCard:
        self._fresh()
        return super().get(model_id)

    def effective(self, session: Session, model_ids: list[str],
                  overrides: dict[str, Override] | None = None) -> dict[str, ModelCard]:
        """These models' cards as the database says now: ``overrides`` as the caller read
        them in its transaction (``override_rows``), else read here."""
        if overrides is None:
            overrides = read_overrides(session, sorted(set(model_ids)))
        return {m: apply(self.base.get(m), overrides.get(m)) for m in model_ids}


def override_rows(rows: Any) -> dict[str, Override]:
    """Overrides from rows of (model_id, credits, enabled), e.g. those a submit reads in the
    statement that also counts its jobs in flight."""
    return {row.model_id: Override(row.credits, None if row.enabled is None
                                   else bool(row.enabled)) for row in rows}
