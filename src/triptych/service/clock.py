"""Injected time: services take a ``Clock`` so tests can move through months."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Naive UTC: what we store (SQLite has no time zones)."""
    return datetime.now(UTC).replace(tzinfo=None)


def period_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def month_words(period: str) -> str:
    """"2026-03" -> "March 2026"."""
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def next_period_start(moment: datetime) -> datetime:
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1)
    return datetime(moment.year, moment.month + 1, 1)


class ManualClock:
    """A clock tests can set and advance."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)
