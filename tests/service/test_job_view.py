"""A job's final progress event carries the finished job exactly as a read of its row
gives it, so whoever waits on the event needs no second read."""

from __future__ import annotations

import pytest
from tests.conftest import BOTH_DBS

from triptych.engines.errors import FatalError
from triptych.errors import JobFailed
from triptych.service.progress import FINAL_JOB


@BOTH_DBS
def test_a_succeeded_jobs_final_event_carries_the_job(tp):
    out = tp.generate("a red circle", "fake-general", seed=7, n=2)
    event = tp.ctx.hub.latest(out.job["id"])
    assert event is not None and event.status == "succeeded"
    assert event.extra[FINAL_JOB] == tp.job(out.job["id"])
    assert len(event.extra[FINAL_JOB]["images"]) == 2


@BOTH_DBS
def test_a_failed_jobs_final_event_carries_the_job(tp, fake_factory):
    fake_factory.engine("fake-general").fail_with = FatalError("boom")
    with pytest.raises(JobFailed):
        tp.generate("a red circle", "fake-general")
    [job] = tp.history()
    event = tp.ctx.hub.latest(job["id"])
    assert event is not None and event.status == "failed"
    carried = event.extra[FINAL_JOB]
    assert carried == tp.job(job["id"])
    assert carried["error"]["message"] == event.extra["error"] and carried["charged"] == 0
