"""Compare: one prompt, one seed, several models; quoted and held up front; one sheet."""

import pytest
from PIL import Image
from sqlalchemy import update
from tests.conftest import BOTH_DBS

from triptych.db.models import Job
from triptych.engines.errors import ModerationError
from triptych.errors import IdempotencyConflict, InsufficientCredits, InvalidRequest


@BOTH_DBS
def test_compare_runs_each_model_with_the_same_seed(tp, fake_factory):
    out = tp.compare("a red circle", ["fake-draft", "fake-general", "fake-premium"], seed=5)
    assert [r.job["model"] for r in out.results] == ["fake-draft", "fake-general",
                                                     "fake-premium"]
    assert {r.job["seed"] for r in out.results} == {5}
    assert out.total_cost == 21 and tp.credits()["available"] == 29
    with Image.open(out.sheet_path) as sheet:
        assert sheet.width >= 3 * 256
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_compare_is_held_whole_or_not_at_all(tp):
    tp.generate("x", "fake-premium", n=3)  # 5 credits left
    with pytest.raises(InsufficientCredits) as info:
        tp.compare("a red circle", ["fake-draft", "fake-general"])
    assert info.value.fields["needed"] == 6
    assert tp.credits()["available"] == 5 and tp.credits()["held"] == 0


@BOTH_DBS
def test_one_failure_refunds_only_that_model(tp, fake_factory):
    fake_factory.engine("fake-general").fail_with = ModerationError("no", side="output")
    out = tp.compare("a red circle", ["fake-draft", "fake-general"], seed=1)
    assert [f["model"] for f in out.failures] == ["fake-general"]
    assert out.total_cost == 1 and tp.credits()["available"] == 49
    assert out.sheet_path is not None


@BOTH_DBS
def test_compare_needs_two_to_four_distinct_models(tp):
    for models in (["fake-draft"], ["fake-draft", "fake-draft"], ["fake-draft"] * 5):
        with pytest.raises(InvalidRequest):
            tp.compare("a cat", models)


@BOTH_DBS
def test_a_compare_with_an_idempotency_key_is_held_once(tp):
    # The joined fingerprints of a compare are longer than Job.request_hash's 64 characters:
    # PostgreSQL refused the insert (a 500) until they were digested.
    first = tp.submit_compare("a kite", ["fake-draft", "fake-premium"], idempotency_key="c1")
    again = tp.submit_compare("a kite", ["fake-draft", "fake-premium"], idempotency_key="c1")
    assert again["id"] == first["id"]
    assert [j["id"] for j in again["jobs"]] == [j["id"] for j in first["jobs"]]
    assert tp.credits()["held"] == 16  # held once
    for models in (["fake-draft", "fake-general"], ["fake-premium", "fake-draft"]):
        with pytest.raises(IdempotencyConflict):
            tp.submit_compare("a kite", models, idempotency_key="c1")
    with pytest.raises(IdempotencyConflict):
        tp.submit_compare("a kite", ["fake-draft", "fake-premium"], idempotency_key="c1",
                          seed=first["seed"] + 1)
    assert tp.verify_ledger() == []


def test_a_compare_keyed_before_the_digest_still_replays(tp):
    # SQLite (which does not enforce String(64)) kept the joined fingerprints whole before
    # they were digested: a replay of such a compare is still the same request.
    models = ["fake-draft", "fake-general"]
    first = tp.submit_compare("a kite", models, idempotency_key="c2")
    specs = [tp._spec(m, "a kite", seed=first["seed"])[1] for m in models]
    with tp.ctx.sessions.begin() as s:
        s.execute(update(Job).where(Job.compare_id == first["id"])
                  .values(request_hash="|".join(spec.fingerprint() for spec in specs)))
    assert tp.submit_compare("a kite", models, idempotency_key="c2")["id"] == first["id"]
    with pytest.raises(IdempotencyConflict):
        tp.submit_compare("a kite", ["fake-draft", "fake-premium"], idempotency_key="c2")
