"""Compare: one prompt, one seed, several models; quoted and held up front; one sheet."""

import pytest
from PIL import Image

from triptych.engines.errors import ModerationError
from triptych.errors import InsufficientCredits, InvalidRequest


def test_compare_runs_each_model_with_the_same_seed(tp, fake_factory):
    out = tp.compare("a red circle", ["fake-draft", "fake-general", "fake-premium"], seed=5)
    assert [r.job["model"] for r in out.results] == ["fake-draft", "fake-general",
                                                     "fake-premium"]
    assert {r.job["seed"] for r in out.results} == {5}
    assert out.total_cost == 21 and tp.credits()["available"] == 29
    with Image.open(out.sheet_path) as sheet:
        assert sheet.width >= 3 * 256
    assert tp.verify_ledger() == []


def test_compare_is_held_whole_or_not_at_all(tp):
    tp.generate("x", "fake-premium", n=3)  # 5 credits left
    with pytest.raises(InsufficientCredits) as info:
        tp.compare("a red circle", ["fake-draft", "fake-general"])
    assert info.value.fields["needed"] == 6
    assert tp.credits()["available"] == 5 and tp.credits()["held"] == 0


def test_one_failure_refunds_only_that_model(tp, fake_factory):
    fake_factory.engine("fake-general").fail_with = ModerationError("no", side="output")
    out = tp.compare("a red circle", ["fake-draft", "fake-general"], seed=1)
    assert [f["model"] for f in out.failures] == ["fake-general"]
    assert out.total_cost == 1 and tp.credits()["available"] == 49
    assert out.sheet_path is not None


def test_compare_needs_two_to_four_distinct_models(tp):
    for models in (["fake-draft"], ["fake-draft", "fake-draft"], ["fake-draft"] * 5):
        with pytest.raises(InvalidRequest):
            tp.compare("a cat", models)
