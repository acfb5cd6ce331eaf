"""Picks: the image chosen on a compare, stored once per compare (owner only), and the win
rates and recommender signal they add up to. On SQLite and PostgreSQL."""

import pytest
from sqlalchemy import func, select
from tests.conftest import BOTH_DBS

from triptych.db.studio_models import Pick
from triptych.engines.errors import ModerationError
from triptych.errors import InvalidRequest, NotFound

THREE = ["fake-draft", "fake-general", "fake-premium"]


def jobs_of(tp, compare) -> dict[str, str]:
    """model -> job id of a comparison."""
    return {j["model"]: j["id"] for j in tp.compare_status(compare.id)["jobs"]}


def pick_rows(tp) -> list[Pick]:
    with tp.ctx.sessions() as s:
        return list(s.scalars(select(Pick)))


@BOTH_DBS
def test_a_blind_pick_is_stored_with_the_order_shown(tp):
    cmp = tp.compare("a red circle", THREE, seed=3)
    jobs = jobs_of(tp, cmp)
    shown = [jobs["fake-premium"], jobs["fake-draft"], jobs["fake-general"]]  # shuffled
    out = tp.pick(cmp.id, jobs["fake-draft"], blind=True, shown=shown)
    assert out["model"] == "fake-draft" and out["blind"] is True
    (row,) = pick_rows(tp)
    assert (row.compare_id, row.job_id, row.model_id) == (cmp.id, jobs["fake-draft"],
                                                          "fake-draft")
    assert row.shown == ["fake-premium", "fake-draft", "fake-general"]
    assert row.user_id == tp.user_id and row.blind is True
    assert row.prompt_kind == "general"
    assert tp.current_pick(cmp.id)["job_id"] == jobs["fake-draft"]


@BOTH_DBS
def test_picking_again_replaces_the_pick(tp):
    cmp = tp.compare("a red circle", THREE, seed=3)
    jobs = jobs_of(tp, cmp)
    tp.pick(cmp.id, jobs["fake-draft"], blind=True)
    tp.pick(cmp.id, jobs["fake-premium"], blind=False)
    with tp.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Pick)) == 1
    (row,) = pick_rows(tp)
    assert row.model_id == "fake-premium" and row.blind is False
    table = tp.win_rates()
    assert table.picks == 1 and table.by_kind["all"]["fake-premium"].wins == 1
    assert table.by_kind["all"]["fake-draft"].wins == 0


@BOTH_DBS
def test_only_the_owner_can_pick_or_see_a_pick(tp):
    cmp = tp.compare("a red circle", THREE, seed=3)
    jobs = jobs_of(tp, cmp)
    other = tp.as_user("eve@example.com")
    with pytest.raises(NotFound):
        other.pick(cmp.id, jobs["fake-draft"])
    with pytest.raises(NotFound):
        other.current_pick(cmp.id)
    assert pick_rows(tp) == []
    tp.pick(cmp.id, jobs["fake-draft"])
    assert other.win_rates().picks == 0 and tp.win_rates().picks == 1


@BOTH_DBS
def test_bad_picks_are_refused_and_store_nothing(tp, fake_factory):
    cmp = tp.compare("a red circle", THREE, seed=3)
    jobs = jobs_of(tp, cmp)
    other = tp.compare("a blue square", ["fake-draft", "fake-general"], seed=3)
    with pytest.raises(InvalidRequest):  # a job of another comparison
        tp.pick(cmp.id, jobs_of(tp, other)["fake-draft"])
    with pytest.raises(InvalidRequest):  # an order that leaves a job out
        tp.pick(cmp.id, jobs["fake-draft"], shown=[jobs["fake-draft"], jobs["fake-general"]])
    fake_factory.engine("fake-general").fail_with = ModerationError("no", side="output")
    failed = tp.compare("a green star", THREE, seed=4)
    failed_jobs = jobs_of(tp, failed)
    with pytest.raises(InvalidRequest):  # a failed model showed no image
        tp.pick(failed.id, failed_jobs["fake-general"])
    assert pick_rows(tp) == []
    # A model that failed was not shown: it neither wins nor loses that contest.
    tp.pick(failed.id, failed_jobs["fake-premium"])
    assert pick_rows(tp)[0].shown == ["fake-draft", "fake-premium"]


@BOTH_DBS
def test_win_rates_per_model_and_kind_of_prompt(tp):
    general = [tp.compare(p, THREE, seed=1) for p in ("a red circle", "a cat on a sofa")]
    design = tp.compare("a minimalist logo for a coffee shop", ["fake-draft", "fake-general"],
                        seed=1)
    for cmp in general:
        tp.pick(cmp.id, jobs_of(tp, cmp)["fake-general"], blind=True)
    tp.pick(design.id, jobs_of(tp, design)["fake-draft"], blind=True)
    summary = tp.win_rates().summary({"fake-general": "Fake General"},
                                     {"general": "general picture", "design": "logo"})
    assert summary["picks"] == 3 and summary["blind"] == 3
    top = summary["models"][0]
    assert (top["model"], top["name"], top["wins"], top["shown"]) == ("fake-general",
                                                                      "Fake General", 2, 3)
    assert top["rate"] == pytest.approx(2 / 3, abs=1e-3)
    kinds = {k["kind"]: k for k in summary["kinds"]}
    assert kinds["general"]["picks"] == 2 and kinds["design"]["label"] == "logo"
    by_model = {m["model"]: m for m in kinds["general"]["models"]}
    assert (by_model["fake-general"]["wins"], by_model["fake-general"]["shown"]) == (2, 2)
    assert (by_model["fake-premium"]["wins"], by_model["fake-premium"]["shown"]) == (0, 2)
    assert {m["model"]: m["wins"] for m in kinds["design"]["models"]} == {
        "fake-draft": 1, "fake-general": 0}


@BOTH_DBS
def test_the_recommender_ranks_the_model_you_pick_higher_and_says_so(tp):
    prompt = "a cabin by a lake"
    tp.grant(tp.user_email, 100, reason="three comparisons")
    before = tp.recommend(prompt, limit=3)["recommendations"]
    # Without picks the general model leads and the draft one trails.
    order = [r["model"] for r in before]
    assert order.index("fake-general") < order.index("fake-draft")
    assert not any("Your picks" in reason for r in before for reason in r["reasons"])
    for p in ("a red circle", "a cat on a sofa", "a house in the snow"):
        cmp = tp.compare(p, THREE, seed=2)
        tp.pick(cmp.id, jobs_of(tp, cmp)["fake-draft"], blind=True)
    after = tp.recommend(prompt, limit=3)["recommendations"]
    order = [r["model"] for r in after]
    assert order.index("fake-draft") < order.index("fake-general")
    draft = next(r for r in after if r["model"] == "fake-draft")
    assert any("Your picks: you chose Fake Draft in 3 of 3 comparisons of general picture"
               in reason for reason in draft["reasons"])
    # Another user's ranking is untouched by these picks.
    theirs = tp.as_user("eve@example.com").recommend(prompt, limit=3)["recommendations"]
    assert [r["model"] for r in theirs] == [r["model"] for r in before]
