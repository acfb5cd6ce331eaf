"""Dates as people say them on a statement: "today 14:02", "yesterday 09:10", "3 Dec",
"3 Dec 2025" (an older year), "1 April" for a day to come. Times are UTC, as stored; the
page's script rewrites them in the reader's own time zone (``<time datetime>`` carries the
instant)."""

from __future__ import annotations

from datetime import date, datetime

from triptych.service.clock import MONTHS


def when(at: datetime, now: datetime) -> str:
    days = (now.date() - at.date()).days
    if days == 0:
        return f"today {at:%H:%M}"
    if days == 1:
        return f"yesterday {at:%H:%M}"
    short = f"{at.day} {MONTHS[at.month - 1][:3]}"
    return short if at.year == now.year else f"{short} {at.year}"


def day(on: date | str) -> str:
    """A day to come, in words: "1 April" (ISO dates accepted)."""
    if isinstance(on, str):
        on = date.fromisoformat(on)
    return f"{on.day} {MONTHS[on.month - 1]}"


def month_of(moment: datetime) -> str:
    """"March" (this year) for a month's heading."""
    return MONTHS[moment.month - 1]
