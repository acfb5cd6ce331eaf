"""Garbage collection of stored files: referenced and young files stay, old orphans go, on
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from triptych.db.models import Compare, Image
from triptych.service.clock import utc_now
from triptych.service.store_gc import collect_orphans, location_in_use

GRACE = timedelta(hours=1)


def backdate(location: str, hours: float = 2) -> None:
    moment = time.time() - hours * 3600
    os.utime(location, (moment, moment))


def stored_sheet(tp) -> str:
    """A comparison row holding a stored sheet (made directly: on PostgreSQL, submitting a
    comparison hits a separate bug, a request hash longer than its column)."""
    _, location = tp.ctx.store.put(b"a side-by-side sheet")
    with tp.ctx.sessions.begin() as s:
        s.add(Compare(id=uuid.uuid4().hex, user_id=tp.user_id, prompt="p", seed=1,
                      sheet_path=location, created_at=utc_now()))
    return location


@pytest.fixture(params=["sqlite", "postgres"])
def any_tp(request):
    return request.getfixturevalue("tp" if request.param == "sqlite" else "pg_tp")


def test_collect_orphans_deletes_only_old_unreferenced_files(any_tp):
    tp, store = any_tp, any_tp.ctx.store
    kept = tp.generate("a red circle", "fake-general").locations[0]
    sheet = stored_sheet(tp)
    deleted = tp.generate("a green frog", "fake-draft")
    tp.delete_image(deleted.images[0]["id"])  # young: left for the sweeper
    _, old_orphan = store.put(b"stored by a job that then failed")
    _, young_orphan = store.put(b"stored by a job that has not committed yet")
    _, reused = store.put(b"an old orphan a running job is storing again")
    half_written = Path(kept).parent / f"{Path(kept).name}.x1y2.tmp"  # a crash mid-write
    half_written.write_bytes(b"partial")
    for location in (kept, sheet, deleted.locations[0], old_orphan, reused,
                     str(half_written)):
        backdate(location)
    store.put(b"an old orphan a running job is storing again")  # refreshes its age

    gone = collect_orphans(tp.ctx.sessions, store, GRACE, now=utc_now())
    assert sorted(gone) == sorted([deleted.locations[0], old_orphan, str(half_written)])
    for location in (kept, sheet, young_orphan, reused):
        assert store.exists(location), location
    assert tp.image_bytes(tp.history("red")[0]["images"][0]["id"]).startswith(b"\x89PNG")
    assert collect_orphans(tp.ctx.sessions, store, GRACE, now=utc_now()) == []


def test_location_in_use_sees_live_pngs_svgs_and_sheets(any_tp):
    tp = any_tp
    out = tp.generate("a red circle", "fake-general")
    _, svg = tp.ctx.store.put(b"<svg/>", "svg")
    with tp.ctx.sessions.begin() as s:
        s.get(Image, out.images[0]["id"]).svg_path = svg
    sheet = stored_sheet(tp)
    with tp.ctx.sessions.begin() as s:
        assert location_in_use(s, out.locations[0]) and location_in_use(s, svg)
        assert location_in_use(s, sheet)
        assert not location_in_use(s, tp.ctx.store.put(b"nobody's")[1])
    with tp.ctx.sessions.begin() as s:
        s.get(Image, out.images[0]["id"]).deleted_at = utc_now()
    with tp.ctx.sessions.begin() as s:
        assert not location_in_use(s, out.locations[0]) and not location_in_use(s, svg)
