"""A process remembers the holds it made, once committed, and its settle skips reading them
back; a hold whose transaction rolled back is never remembered."""

import pytest
from tests.conftest import BOTH_DBS

from triptych.errors import InsufficientCredits

pytestmark = BOTH_DBS


def test_committed_holds_are_remembered_then_used_by_the_settle(tp):
    job = tp.submit("a cat", "fake-general")  # 5 credits of the 50 free
    parts = tp.ctx.ledger_cache.holds[job["id"]]
    assert [p.amount for p in parts] == [5]
    tp.run(job["id"])
    assert job["id"] not in tp.ctx.ledger_cache.holds  # taken by the settle
    assert tp.credits()["available"] == 45
    assert tp.verify_ledger() == []


def test_a_hold_split_over_free_and_purchased_is_captured_in_that_order(tp):
    tp.grant(tp.user_email, 20, reason="bought a pack")
    for _ in range(9):  # 45 of the 50 free
        tp.generate("a cat", "fake-general")
    job = tp.submit("a dog", "fake-general", n=2)  # 10: 5 free + 5 purchased
    assert [p.amount for p in tp.ctx.ledger_cache.holds[job["id"]]] == [5, 5]
    tp.run(job["id"])
    credits = tp.credits()
    assert (credits["allowance"], credits["purchased"]) == (0, 15)
    assert tp.verify_ledger() == []


def test_holds_of_a_rolled_back_submit_are_not_remembered(tp):
    for _ in range(7):  # 35 of the 50 free: 15 left
        tp.generate("a cat", "fake-general")
    before = set(tp.ctx.ledger_cache.holds)
    with pytest.raises(InsufficientCredits):  # the first two are held, then the third fails
        tp.compare("a cat", ["fake-general", "fake-draft", "fake-premium"])
    assert set(tp.ctx.ledger_cache.holds) == before
    assert tp.credits()["available"] == 15
