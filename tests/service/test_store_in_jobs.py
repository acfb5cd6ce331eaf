"""The store inside the job service: a store that cannot save fails the job at once with its
credits refunded."""

from __future__ import annotations

import pytest

from triptych.errors import JobFailed


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
