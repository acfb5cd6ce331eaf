"""A generation's model options: checked before anything is held, stored with the job, sent
to the engine that runs it (here or in a worker), part of the idempotency fingerprint, and
carried to a re-render when the new model takes them."""

from __future__ import annotations

import pytest
from tests.conftest import BOTH_DBS

from triptych.engines.options import OptionSpec
from triptych.errors import IdempotencyConflict, InvalidRequest

GUIDED = {"guidance": OptionSpec("number", "cfg", 0.0, 20.0),
          "layout_check": OptionSpec("boolean", "flip")}


@pytest.fixture
def guided(fake_factory):
    fake_factory.options_by_target["fake-general"] = dict(GUIDED)
    fake_factory.options_by_target["fake-premium"] = {"guidance": GUIDED["guidance"]}
    return fake_factory


@BOTH_DBS
def test_options_reach_the_engine_and_the_record(tp, guided):
    out = tp.generate("a red circle", "fake-general", seed=3,
                      options={"guidance": 7.5, "layout_check": False})
    assert guided.engine("fake-general").calls[-1].options == {"guidance": 7.5,
                                                               "layout_check": False}
    assert out.job["options"] == {"guidance": 7.5, "layout_check": False}
    assert tp.job(out.id)["options"] == {"guidance": 7.5, "layout_check": False}
    assert out.images[0]["record"]["options"] == {"guidance": 7.5, "layout_check": False}


@BOTH_DBS
def test_a_queued_job_keeps_its_options_until_it_runs(tp, guided):
    job = tp.submit("a red circle", "fake-general", seed=3, options={"guidance": 2})
    tp.run(job["id"])
    assert guided.engine("fake-general").calls[-1].options == {"guidance": 2}


@BOTH_DBS
def test_a_wrong_option_is_refused_before_anything_is_held(tp, guided):
    before = tp.credits(statement=False)["available"]
    with pytest.raises(InvalidRequest) as info:
        tp.generate("a red circle", "fake-general", options={"guidance": 40})
    assert info.value.fields["field"] == "options.guidance"
    with pytest.raises(InvalidRequest, match="Fake Draft has no option 'guidance'"):
        tp.generate("a red circle", "fake-draft", options={"guidance": 4})
    assert tp.credits(statement=False)["available"] == before
    assert tp.history() == []
    assert guided.engine("fake-general").calls == []


@BOTH_DBS
def test_options_are_part_of_the_idempotent_request(tp, guided):
    first = tp.submit("a red circle", "fake-general", seed=1, idempotency_key="k1",
                      options={"guidance": 3})
    again = tp.submit("a red circle", "fake-general", seed=1, idempotency_key="k1",
                      options={"guidance": 3})
    assert again["id"] == first["id"]
    with pytest.raises(IdempotencyConflict):
        tp.submit("a red circle", "fake-general", seed=1, idempotency_key="k1",
                  options={"guidance": 4})


@BOTH_DBS
def test_a_rerender_carries_the_options_the_new_model_takes(tp, guided):
    draft = tp.generate("a red circle", "fake-general", seed=5,
                        options={"guidance": 6, "layout_check": False})
    final = tp.rerender(draft.id, "fake-premium")
    assert final.job["options"] == {"guidance": 6}  # fake-premium has no layout check
    assert guided.engine("fake-premium").calls[-1].options == {"guidance": 6}
