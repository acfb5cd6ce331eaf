"""engines/options.py: what a model's request options accept, and how a wrong one is told."""

from __future__ import annotations

import pytest

from triptych.catalog.loader import load_catalog
from triptych.engines.builtin.engine import factory as builtin_factory
from triptych.engines.options import OptionSpec, check_options
from triptych.errors import InvalidRequest

GUIDANCE = OptionSpec("number", "cfg", 0.0, 20.0)
ALLOWED = {"guidance": GUIDANCE, "steps_hint": OptionSpec("integer", "n", 1, 8),
           "layout_check": OptionSpec("boolean", "flip"),
           "style": OptionSpec("choice", "s", choices=("icon", "realistic_image")),
           "negative_prompt": OptionSpec("text", "neg", max_length=10)}


def test_valid_options_pass_through_typed():
    got = check_options(ALLOWED, {"guidance": 6, "steps_hint": 4.0, "layout_check": False,
                                  "style": "icon", "negative_prompt": "no text"}, "M")
    assert got == {"guidance": 6, "steps_hint": 4, "layout_check": False, "style": "icon",
                   "negative_prompt": "no text"}
    assert isinstance(got["steps_hint"], int)
    assert check_options(ALLOWED, None, "M") == {}


@pytest.mark.parametrize(("given", "field", "words"), [
    ({"guidance": 25}, "options.guidance", "between 0 and 20; got 25"),
    ({"guidance": "high"}, "options.guidance", "must be a number"),
    ({"guidance": True}, "options.guidance", "must be a number"),
    ({"guidance": float("nan")}, "options.guidance", "must be a number"),
    ({"steps_hint": 2.5}, "options.steps_hint", "whole number"),
    ({"layout_check": "yes"}, "options.layout_check", "true or false"),
    ({"style": "anime"}, "options.style", "one of icon, realistic_image"),
    ({"negative_prompt": "x" * 11}, "options.negative_prompt", "limit is 10"),
    ({"seed_bias": 1}, "options.seed_bias", "has no option 'seed_bias'; it takes guidance"),
    (["guidance"], "options", "object of name: value"),
])
def test_a_wrong_option_is_named_with_what_is_allowed(given, field, words):
    with pytest.raises(InvalidRequest) as info:
        check_options(ALLOWED, given, "Model M")
    assert info.value.fields["field"] == field
    assert words in info.value.message


def test_a_model_without_options_says_so():
    with pytest.raises(InvalidRequest, match="takes no options"):
        check_options({}, {"guidance": 1}, "Model M")


def test_builtin_models_declare_what_their_sampler_takes():
    cards = {c.id: c for c in load_catalog()}
    assert set(builtin_factory.options(cards["pico-diffusion"])) == {"guidance", "layout_check"}
    # pico-turbo has its guidance baked in; pico-bits draws in raster order (no layout step)
    assert set(builtin_factory.options(cards["pico-turbo"])) == {"layout_check"}
    assert set(builtin_factory.options(cards["pico-bits"])) == {"guidance"}
    assert builtin_factory.options(cards["pico-diffusion"])["guidance"].public() == {
        "type": "number", "description": GUIDANCE_HELP, "minimum": 0.0, "maximum": 20.0}


GUIDANCE_HELP = "How strongly the image follows the prompt (classifier-free guidance scale)."
