"""The credit statement in a person's words: one line per job whatever the ledger wrote
(holds from two sources, capture, refund), grants and expiries as their own lines, paging
that never splits a job. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import BOTH_DBS

from triptych.engines.errors import ProviderUnavailableError
from triptych.service import statement as statement_mod


def lines(tp, **how):
    with tp.ctx.sessions.begin() as s:
        return statement_mod.statement(s, tp.catalog, tp.user_id, **how)


@BOTH_DBS
def test_a_charged_job_is_one_line_beside_the_monthly_grant(tp):
    tp.generate("two cats", "fake-general")
    page = lines(tp)
    assert [line.text for line in page.lines] == [
        "5 credits — 'two cats' on Fake General", "+50 free credits for March 2026"]
    charge = page.lines[0]
    assert (charge.kind, charge.delta, charge.job_id is not None) == ("charge", -5, True)
    assert page.older is None


@BOTH_DBS
def test_hold_across_free_and_bought_credits_is_still_one_line(tp):
    tp.grant(tp.user_email, 20, reason="bought a pack")
    tp.generate("a dog", "fake-premium")  # 15 credits
    tp.generate("a dog", "fake-premium", n=3)  # 45: 35 free left, 10 from the pack
    page = lines(tp)
    assert [line.text for line in page.lines][:2] == [
        "45 credits — 'a dog' on Fake Premium", "15 credits — 'a dog' on Fake Premium"]
    assert [line.text for line in page.lines][2] == "+20 credits: bought a pack"
    assert tp.credits()["available"] == 10


@BOTH_DBS
def test_failed_job_reads_as_a_refund_with_its_reason(tp, fake_factory):
    fake_factory.engine("fake-general").fail_with = ProviderUnavailableError("provider timeout")
    job = tp.submit("a red fox", "fake-general")
    tp.run(job["id"])
    [refund, _grant] = lines(tp).lines
    assert refund.kind == "refund" and refund.delta == 0 and refund.credits == 5
    assert refund.text == ("Refunded 5 credits — 'a red fox' on Fake General failed: "
                           "Provider unavailable: provider timeout")
    assert "Nothing was charged" not in refund.text


@BOTH_DBS
def test_cancelled_and_pending_jobs(tp):
    running = tp.submit("a slow one", "fake-general")
    page = lines(tp)
    assert page.lines[0].text == "5 credits set aside — 'a slow one' on Fake General (in progress)"
    assert page.lines[0].delta == -5
    tp.cancel(running["id"])
    page = lines(tp)
    assert page.lines[0].text == "Refunded 5 credits — 'a slow one' on Fake General was cancelled"
    assert len(page.lines) == 2  # still one line for the job


@BOTH_DBS
def test_partial_delivery_is_a_charge_with_a_refund(tp, fake_factory):
    fake_factory.engine("fake-general").deliver = 2
    job = tp.submit("four stars", "fake-general", n=4)
    tp.run(job["id"])
    line = lines(tp).lines[0]
    assert (line.kind, line.credits, line.refunded, line.delta) == ("partial", 10, 10, -10)
    assert line.text == ("10 credits — 'four stars' on Fake General, 10 refunded: "
                         "2 of 4 images not delivered")


@BOTH_DBS
def test_month_end_expiry_and_renewal_are_their_own_lines(tp, clock):
    tp.generate("a cat", "fake-general")
    clock.now = datetime(2026, 4, 1, 9, 0)
    tp.credits()
    texts = [line.text for line in lines(tp).lines]
    assert texts[:2] == ["+50 free credits for April 2026",
                         "45 unused free credits from March 2026 expired"]
    assert texts[2:] == ["5 credits — 'a cat' on Fake General", "+50 free credits for March 2026"]


@BOTH_DBS
def test_paging_walks_every_entry_once_newest_first(tp, clock):
    tp.grant(tp.user_email, 100, reason="pack")
    for i in range(7):
        clock.advance(minutes=1)
        tp.generate(f"prompt {i}", "fake-draft", n=2)
    seen, before = [], None
    while True:
        page = lines(tp, limit=3, before=before)
        seen += page.lines
        if page.older is None:
            break
        before = page.older
    assert len(seen) == 9  # 7 jobs, the pack, the monthly grant
    assert [line.prompt for line in seen[:7]] == [f"prompt {i}" for i in range(6, -1, -1)]
    assert [line.key for line in seen] == sorted((line.key for line in seen), reverse=True)


@BOTH_DBS
def test_usage_by_model_counts_this_month_charges_only(tp, clock, fake_factory):
    tp.generate("a", "fake-general")
    tp.generate("b", "fake-general")
    tp.generate("c", "fake-draft")
    fake_factory.engine("fake-premium").fail_with = ProviderUnavailableError("down")
    failed = tp.submit("d", "fake-premium")
    tp.run(failed["id"])  # refunded: not use
    with tp.ctx.sessions.begin() as s:
        use = statement_mod.usage_by_model(s, tp.catalog, tp.user_id, clock())
        usual = statement_mod.usual_model(s, tp.user_id, clock())
    assert [(u.model, u.credits, u.jobs) for u in use] == [("Fake General", 10, 2),
                                                           ("Fake Draft", 1, 1)]
    assert usual == "fake-general"
    clock.now = datetime(2026, 4, 2)
    with tp.ctx.sessions.begin() as s:
        assert statement_mod.usage_by_model(s, tp.catalog, tp.user_id, clock()) == []
