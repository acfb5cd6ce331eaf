"""The gallery: a user's live images, one row per image, newest job first.

Each row carries what a tile shows about its job (prompt, model, when), so the page can group
consecutive images of one job under one caption without a query per job. Filters are the ones
a daily user reaches for: model, a date window, favourites only, words in the prompt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triptych.db.models import Image, Job


@dataclass(frozen=True)
class GalleryFilter:
    query: str | None = None  # words that must all appear in the prompt
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    favourites: bool = False


def list_images(session: Session, user_id: int, f: GalleryFilter, *, limit: int,
                offset: int = 0) -> list[dict[str, Any]]:
    stmt = (select(Image, Job.prompt, Job.model_id, Job.created_at, Job.compare_id)
            .join(Job, Job.id == Image.job_id)
            .where(Image.user_id == user_id, Image.deleted_at.is_(None)))
    for term in (f.query or "").split():
        stmt = stmt.where(Job.prompt.ilike(f"%{term}%"))
    if f.model:
        stmt = stmt.where(Job.model_id == f.model)
    if f.since:
        stmt = stmt.where(Job.created_at >= f.since)
    if f.until:
        stmt = stmt.where(Job.created_at < f.until)
    if f.favourites:
        stmt = stmt.where(Image.favourite_at.is_not(None))
    stmt = (stmt.order_by(Job.created_at.desc(), Job.id.desc(), Image.index)
            .limit(limit).offset(offset))
    return [{"id": image.id, "job_id": image.job_id, "index": image.index,
             "width": image.width, "height": image.height, "seed": image.record.get("seed"),
             "favourite": image.favourite_at is not None, "prompt": prompt, "model": model_id,
             "created_at": created_at.isoformat(timespec="seconds"), "compare_id": compare_id}
            for image, prompt, model_id, created_at, compare_id in session.execute(stmt)]
