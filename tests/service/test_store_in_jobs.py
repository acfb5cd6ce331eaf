"""The store inside the job service and the facade: a store that cannot save fails the job at
once with its credits refunded; deleting an image removes its file only when no live image and
no job in flight can still need it."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from triptych.db.models import Image
from triptych.errors import JobFailed, NotFound


def backdate(location: str, hours: float = 2) -> None:
    moment = time.time() - hours * 3600
    os.utime(location, (moment, moment))


@pytest.fixture(params=["sqlite", "postgres"])
def any_tp(request):
    return request.getfixturevalue("tp" if request.param == "sqlite" else "pg_tp")


def test_a_store_that_cannot_save_fails_the_job_and_refunds(any_tp):
    tp = any_tp
    # A regular file where the image directory should be: every write fails (ENOTDIR), and
    # being root does not help.
    tp.settings.image_dir.write_text("not a directory")
    with pytest.raises(JobFailed) as info:
        tp.generate("a red circle", "fake-general", n=2)
    assert info.value.fields["reason"] == "storage_failed"
    assert info.value.message == ("Could not save the image: not a directory. Nothing was "
                                  "charged.")
    [job] = tp.history()
    assert job["status"] == "failed" and job["charged"] == 0 and job["images"] == []
    credits = tp.credits()
    assert credits["available"] == 50 and credits["held"] == 0
    assert tp.verify_ledger() == []
    assert not [p for p in tp.settings.home.rglob("*.tmp")]


def test_deleting_an_image_removes_an_old_unshared_file(any_tp):
    tp = any_tp
    out = tp.generate("a red circle", "fake-general")
    [location] = out.locations
    backdate(location)
    tp.delete_image(out.images[0]["id"])
    assert not Path(location).exists()
    with pytest.raises(NotFound):
        tp.image_bytes(out.images[0]["id"])


def test_deleting_keeps_a_file_another_live_image_shares(any_tp):
    tp = any_tp
    out = tp.generate("a red circle", "fake-general")
    first = out.images[0]
    with tp.ctx.sessions.begin() as s:  # the same bytes recorded twice (content addressing)
        row = s.get(Image, first["id"])
        s.add(Image(id=uuid.uuid4().hex, job_id=row.job_id, user_id=row.user_id, index=1,
                    sha256=row.sha256, path=row.path, width=row.width, height=row.height,
                    record=row.record, created_at=row.created_at))
    backdate(first["path"])
    tp.delete_image(first["id"])
    assert Path(first["path"]).exists()
    [twin] = tp.job(out.id)["images"]
    tp.delete_image(twin["id"])
    assert not Path(first["path"]).exists()


def test_deleting_keeps_a_file_a_running_job_is_storing_again(any_tp):
    tp = any_tp
    out = tp.generate("a red circle", "fake-general")
    [location] = out.locations
    backdate(location)
    data = Path(location).read_bytes()
    tp.ctx.store.put(data)  # a job storing identical bytes, its row not committed yet
    tp.delete_image(out.images[0]["id"])
    assert Path(location).read_bytes() == data  # the sweeper decides later, after the grace
