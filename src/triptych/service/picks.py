"""Picks: the image a person chose on a compare sheet, and the win rates they add up to.

A pick belongs to one compare (picking again replaces it) and records every model that was
shown with an image, in the order shown, so "times shown" counts real contests: a model that
failed on a sheet showed nothing and neither won nor lost there. The kind of prompt is the
recommender's primary intent, stored with the pick so later changes to the intent rules do
not rewrite history.

Win rates are wins / times shown, per model and per kind of prompt, for one user; the
recommender reads the per-kind table as one more signal (``recommend(..., picks=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from triptych.db.models import Compare, Job
from triptych.db.studio_models import Pick
from triptych.errors import InvalidRequest, NotFound
from triptych.service.jobs import new_id


@dataclass
class Record:
    """One model's results in a set of picks."""

    wins: int = 0
    shown: int = 0

    @property
    def rate(self) -> float:
        return self.wins / self.shown if self.shown else 0.0


@dataclass
class WinTable:
    """Per model and per kind of prompt: {kind: {model: Record}}; ``"all"`` is every kind."""

    picks: int = 0
    blind: int = 0
    by_kind: dict[str, dict[str, Record]] = field(default_factory=dict)
    kind_picks: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, winner: str, shown: list[str]) -> None:
        self.kind_picks[kind] = self.kind_picks.get(kind, 0) + 1
        for bucket in ("all", kind):
            table = self.by_kind.setdefault(bucket, {})
            for model in shown:
                record = table.setdefault(model, Record())
                record.shown += 1
                record.wins += model == winner

    def records(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Per kind (``"all"`` left out): {model: (wins, shown)}, as the recommender reads it."""
        return {kind: {m: (r.wins, r.shown) for m, r in table.items()}
                for kind, table in self.by_kind.items() if kind != "all"}


    def summary(self, names: dict[str, str],
                kind_labels: dict[str, str]) -> dict[str, Any]:
        """Win rates for people: best first (rate, then wins), with display names."""
        def rows(table: dict[str, Record]) -> list[dict[str, Any]]:
            out = [{"model": m, "name": names.get(m, m), "wins": r.wins, "shown": r.shown,
                    "rate": round(r.rate, 3)} for m, r in table.items()]
            return sorted(out, key=lambda r: (-r["rate"], -r["wins"], r["name"]))

        kinds = [{"kind": k, "label": kind_labels.get(k, k), "picks": self.kind_picks[k],
                  "models": rows(self.by_kind[k])}
                 for k in sorted(self.kind_picks, key=lambda k: (-self.kind_picks[k], k))]
        return {"picks": self.picks, "blind": self.blind,
                "models": rows(self.by_kind.get("all", {})), "kinds": kinds}


def _sheet(s: Session, user_id: int, compare_id: str) -> tuple[Compare, list[Job]]:
    compare = s.get(Compare, compare_id)
    if compare is None or compare.user_id != user_id:  # another user's compare is not found
        raise NotFound(f"No comparison {compare_id}.")
    jobs = list(s.scalars(select(Job).where(Job.compare_id == compare_id)
                          .order_by(Job.compare_index)))
    return compare, jobs


def save_pick(sessions: sessionmaker, now: datetime, *, user_id: int, compare_id: str,
              job_id: str, prompt_kind: str, blind: bool,
              shown_jobs: list[str] | None = None) -> dict[str, Any]:
    """Store (or replace) the user's pick on a compare. ``shown_jobs``: the compare's jobs in
    the order the person saw them (a blind sheet is shuffled); default: the compare's order."""
    with sessions.begin() as s:
        compare, jobs = _sheet(s, user_id, compare_id)
        by_id = {job.id: job for job in jobs}
        if job_id not in by_id:
            raise InvalidRequest("That image is not part of this comparison.", field="job_id")
        if by_id[job_id].status != "succeeded":
            raise InvalidRequest("Only a finished image can be picked.", field="job_id")
        order = shown_jobs if shown_jobs is not None else [job.id for job in jobs]
        if sorted(order) != sorted(by_id):
            raise InvalidRequest("The shown order must list each job of the comparison once.",
                                 field="shown")
        shown = [by_id[j].model_id for j in order if by_id[j].status == "succeeded"]
        if len(shown) < 2:
            raise InvalidRequest("A pick needs at least two finished images to choose from.",
                                 field="job_id")
        values = dict(job_id=job_id, model_id=by_id[job_id].model_id, shown=shown,
                      prompt_kind=prompt_kind, blind=blind, created_at=now)
        existing = s.scalars(select(Pick).where(Pick.compare_id == compare_id)
                             .with_for_update()).first()
        if existing is not None:
            for key, value in values.items():
                setattr(existing, key, value)
        else:
            try:
                with s.begin_nested():  # a concurrent first pick may win the unique key
                    s.add(Pick(id=new_id(), user_id=user_id, compare_id=compare.id,
                               notes={}, **values))
            except IntegrityError:
                existing = s.scalars(select(Pick).where(Pick.compare_id == compare_id)
                                     .with_for_update()).one()
                for key, value in values.items():
                    setattr(existing, key, value)
        return {"compare_id": compare_id, "job_id": job_id, "model": by_id[job_id].model_id,
                "shown": shown, "prompt_kind": prompt_kind, "blind": blind,
                "created_at": now.isoformat()}


def pick_for(sessions: sessionmaker, user_id: int, compare_id: str) -> dict[str, Any] | None:
    """The user's current pick on a compare, or None."""
    with sessions.begin() as s:
        _sheet(s, user_id, compare_id)  # owner check
        pick = s.scalars(select(Pick).where(Pick.compare_id == compare_id)).first()
        if pick is None:
            return None
        return {"compare_id": compare_id, "job_id": pick.job_id, "model": pick.model_id,
                "shown": list(pick.shown), "prompt_kind": pick.prompt_kind,
                "blind": pick.blind, "created_at": pick.created_at.isoformat()}


def win_table(sessions: sessionmaker, user_id: int) -> WinTable:
    """Every pick of the user, added up."""
    table = WinTable()
    with sessions.begin() as s:
        rows = s.execute(select(Pick.model_id, Pick.shown, Pick.prompt_kind, Pick.blind)
                         .where(Pick.user_id == user_id))
        for winner, shown, kind, blind in rows:
            table.picks += 1
            table.blind += bool(blind)
            table.add(kind, winner, list(shown))
    return table
