"""The prompt check: categories, modes, and a block that costs nothing and names its rule."""

import pytest

from triptych.errors import InvalidRequest, ModerationBlocked
from triptych.service.safety import check_prompt, find_violation


@pytest.mark.parametrize("prompt", ["a red apple", "a dog left of a cat",
                                    "a sign that says OPEN", "a child flying a kite",
                                    "a baby elephant", "a bloody mary cocktail"])
def test_ordinary_prompts_pass_in_standard(prompt):
    check_prompt(prompt, "standard")


def test_explicit_content_blocked_in_standard_allowed_unrestricted():
    assert find_violation("a nude figure study", "standard").id == "sexual-explicit"
    assert find_violation("a nude figure study", "unrestricted") is None
    assert find_violation("a gory battlefield", "standard").id == "graphic-gore"


@pytest.mark.parametrize("mode", ["standard", "unrestricted"])
def test_minors_are_blocked_in_every_mode(mode):
    rule = find_violation("a naked child", mode)
    assert rule is not None and rule.id == "minors-sexual"


def test_block_says_which_rule_and_costs_nothing(tp):
    with pytest.raises(ModerationBlocked) as info:
        tp.generate("an explicit nsfw scene", "fake-general")
    assert info.value.rule == "sexual-explicit" and info.value.side == "input"
    assert "Nothing was charged" in info.value.message
    assert tp.credits()["available"] == 50 and tp.history() == []


def test_unrestricted_needs_pro_opt_in_and_a_model_that_allows_it(tp):
    with pytest.raises(InvalidRequest):
        tp.generate("a nude figure study", "fake-premium", content_mode="unrestricted")
    tp.set_plan(tp.user_email, "pro")
    with pytest.raises(InvalidRequest):  # pro, but not opted in
        tp.generate("a nude figure study", "fake-premium", content_mode="unrestricted")
    tp.set_unrestricted(True)
    out = tp.generate("a nude figure study", "fake-premium", content_mode="unrestricted")
    assert out.job["content_mode"] == "unrestricted"
    with pytest.raises(InvalidRequest) as info:  # this model has no unrestricted mode
        tp.generate("a nude figure study", "fake-general", content_mode="unrestricted")
    assert info.value.field == "content_mode"
    with pytest.raises(ModerationBlocked):  # never, in any mode
        tp.generate("a naked child", "fake-premium", content_mode="unrestricted")


def test_free_account_cannot_opt_in(tp):
    with pytest.raises(InvalidRequest):
        tp.set_unrestricted(True)
