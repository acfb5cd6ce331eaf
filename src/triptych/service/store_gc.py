"""Garbage collection of stored files nothing refers to, for the sweeper.

A file is an orphan when no live image (``Image.path``/``svg_path`` with ``deleted_at`` unset)
and no comparison (``Compare.sheet_path``) names it: a job that failed after storing some of
its images, a gallery deletion that had to leave the file, a crashed half-write. Files are
matched by their content name (``<sha>.<ext>``), not their full location, so a row written
under another spelling of the same root still protects its file.

A job stores its files *before* the transaction that records them, so a young unreferenced
file may be about to be claimed: only files older than a grace period go. Re-storing an
existing file refreshes its age (``ImageStore.put``), and each deletion re-checks the age
right before it happens, so a job that re-uses an old orphan while the sweep runs keeps it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from triptych.db.models import Compare, Image
from triptych.service.clock import utc_now
from triptych.service.store import ImageStore, content_name

# Longer than any job's store-then-commit window (a few seconds; a job's lease is 10 minutes),
# with room for clock skew between a worker and the object store.
UNCOMMITTED_GRACE = timedelta(hours=1)


def referenced_names(session: Session) -> set[str]:
    """Content names of every file a live row refers to."""
    live = Image.deleted_at.is_(None)
    columns = [select(Image.path).where(live),
               select(Image.svg_path).where(live, Image.svg_path.is_not(None)),
               select(Compare.sheet_path).where(Compare.sheet_path.is_not(None))]
    return {content_name(location) for query in columns for location in session.scalars(query)}


def location_in_use(session: Session, location: str) -> bool:
    """Whether a live row refers to the file at ``location`` (one query, for a single file)."""
    name = content_name(location)
    suffix = "/" + name
    live = Image.deleted_at.is_(None)
    return bool(session.scalar(select(or_(
        exists().where(live, Image.sha256 == name.split(".")[0]),  # a PNG, by its indexed sha
        exists().where(live, Image.svg_path.endswith(suffix, autoescape=True)),
        exists().where(Compare.sheet_path.endswith(suffix, autoescape=True)),
    ))))


def collect_orphans(sessions: sessionmaker[Session], store: ImageStore,
                    older_than: timedelta = UNCOMMITTED_GRACE,
                    now: datetime | None = None) -> list[str]:
    """Delete stored files no live row refers to and last written before ``now -
    older_than`` (naive UTC, the store's clock: real time, not a test's manual clock).
    Returns the deleted locations."""
    cutoff = (now or utc_now()) - older_than
    # List first, then read the references: a row committed after the listing was written by
    # a job that stored (so refreshed) its file first, and the age re-check below sees that.
    candidates = [obj.location for obj in store.iter_locations() if obj.modified < cutoff]
    if not candidates:
        return []
    with sessions.begin() as s:
        referenced = referenced_names(s)
    return [location for location in candidates
            if content_name(location) not in referenced
            and store.delete(location, if_older_than=cutoff)]
