"""Plans from data: allowance on upgrade and downgrade, queue priority, unrestricted-mode
eligibility and size limits refused at quote time, naming the plan and the limit."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from tests.conftest import BOTH_DBS

from triptych.db.models import Job
from triptych.errors import InvalidRequest

PLANS = """
[plans.free]
max_width = 256
max_height = 256
max_pixels = 40000

[plans.studio]
name = "Studio"
monthly_credits = 120
priority = 2
unrestricted = true
"""


@pytest.fixture
def settings(settings, tmp_path):
    path = tmp_path / "plans.toml"
    path.write_text(PLANS)
    settings.plans = path
    return settings


@BOTH_DBS
def test_upgrade_tops_up_downgrade_keeps_this_month(tp, clock):
    me = tp.user_email
    tp.generate("a cat", "fake-general")  # 5 of the free 50 spent
    assert tp.credits()["allowance"] == 45
    up = tp.set_plan(me, "pro")
    assert up["allowance"] == 495 and up["monthly_allowance"] == 500  # 500 - 50 more
    down = tp.set_plan(me, "free")
    assert down["allowance"] == 495 and down["monthly_allowance"] == 50  # kept to month end
    assert tp.set_plan(me, "pro")["allowance"] == 495  # back up: nothing granted twice
    tp.set_plan(me, "free")
    clock.now = datetime(2026, 4, 1, 9)
    april = tp.credits()
    assert april["allowance"] == 50 and april["monthly_allowance"] == 50
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_operator_plan_from_the_file(tp):
    me = tp.credits()["user"]  # the account exists
    studio = tp.set_plan(me, "studio")
    assert studio["monthly_allowance"] == 120 and studio["allowance"] == 120
    tp.set_unrestricted(True)  # the file says this plan includes it
    job = tp.submit("a nude figure study", "fake-premium", content_mode="unrestricted",
                    size="512x512")  # and no size limit of its own
    with tp.ctx.sessions.begin() as s:
        assert s.scalar(select(Job.priority).where(Job.id == job["id"])) == 2
    with pytest.raises(InvalidRequest, match="Unknown plan 'gold'"):
        tp.set_plan(me, "gold")


def test_downgrade_ends_unrestricted_opt_in(tp):
    tp.credits()
    tp.set_plan(tp.user_email, "pro")
    tp.set_unrestricted(True)
    tp.set_plan(tp.user_email, "free")
    assert tp.accounts.member(tp.user_id).unrestricted_opt_in is False
    with pytest.raises(InvalidRequest, match="not part of the Free plan"):
        tp.set_unrestricted(True)


@BOTH_DBS
def test_priority_comes_from_the_plan(tp, clock):
    free = tp.submit("a cat", "fake-draft")
    tp.set_plan(tp.user_email, "pro")
    pro = tp.submit("a dog", "fake-draft")
    with tp.ctx.sessions.begin() as s:
        got = dict(s.execute(select(Job.id, Job.priority)).all())
    assert got[free["id"]] == 1 and got[pro["id"]] == 0
    clock.advance(seconds=5)
    taken = tp.jobs.take_unpublished(1)  # the sweeper serves the plan's priority first
    assert [job_id for job_id, _, _ in taken][:1] == [pro["id"]]


@BOTH_DBS
def test_size_limit_refused_at_quote_and_submit(tp):
    with pytest.raises(InvalidRequest) as info:
        tp.quote(model="fake-draft", size="512x256")
    assert info.value.field == "size"
    assert "Free plan" in info.value.message and "256x256" in info.value.message
    with pytest.raises(InvalidRequest, match="40,000 pixels"):
        tp.quote(model="fake-draft", size="250x250")
    with pytest.raises(InvalidRequest, match="Free plan"):
        tp.submit("a cat", "fake-draft", size="512x512")
    assert tp.credits()["available"] == 50 and tp.history() == []  # nothing held
    assert tp.quote(model="fake-draft", size="128x128")["total"] == 1
    tp.set_plan(tp.user_email, "pro")
    assert tp.submit("a cat", "fake-draft", size="512x512")["size"] == "512x512"
