"""Reasons specific to each pick, and free wording routed to the model that reads it."""

import pytest

from triptych.catalog import load_catalog
from triptych.service.model_vocabulary import closed_vocabulary, unknown_words
from triptych.service.recommend import prompt_kind, recommend

CARDS = list(load_catalog())
VOCAB = {c.id: closed_vocabulary(c) for c in CARDS}
BUILTIN_ONLY = {c.id: (c.builtin, "no key here") for c in CARDS}  # a fresh install


def builtin_recs(prompt: str, **kwargs):
    return recommend(prompt, CARDS, BUILTIN_ONLY, vocabularies=VOCAB, limit=3, **kwargs)[1]


def test_word_lists_come_from_the_checkpoints():
    assert "dog" in VOCAB["pico-diffusion"] and "puppy" not in VOCAB["pico-diffusion"]
    assert VOCAB["pico-lm"] is None  # a language model reads ordinary English
    assert VOCAB["flux-pro"] is None  # hosted models too
    assert unknown_words('a sign that says "PUPPY" and a dog', VOCAB["pico-diffusion"]) == []


@pytest.mark.parametrize("prompt", [
    "a puppy beside an automobile",
    "the little kitty sat quietly next to the big shiny automobile in the evening",
    "an enormous crimson balloon floating over a meadow",
])
def test_free_wording_goes_to_the_model_that_reads_it(prompt):
    recs = builtin_recs(prompt)
    assert recs[0].model == "pico-lm", [r.model for r in recs]
    assert any(r.startswith("Reads free wording") for r in recs[0].reasons)
    for rec in recs[1:]:
        assert any("word list lacks" in r for r in rec.reasons), rec.reasons


def test_a_prompt_in_the_built_in_words_is_not_sent_to_pico_lm_for_its_wording():
    recs = builtin_recs("a red circle and a blue square")
    assert not any("word" in r for rec in recs for r in rec.reasons)
    assert recs[0].model != "pico-lm"
    assert recs[0].model == "pico-dit"  # its strength matches: colours bound to shapes
    assert any("colours bound to the right shapes" in r for r in recs[0].reasons)


def test_words_that_ask_for_a_need_are_not_scene_words():
    recs = builtin_recs("quick red apple")
    assert recs[0].model == "pico-turbo"
    assert not any("quick" in r and "lacks" in r for r in recs[0].reasons)


@pytest.mark.parametrize("prompt", ["a puppy beside an automobile", "a red circle and a blue "
                                    "square", "two dogs on a green background"])
def test_each_pick_gets_its_own_reasons(prompt):
    recs = builtin_recs(prompt)
    assert len(recs) == 3
    assert len({tuple(r.reasons) for r in recs}) == 3
    assert len({r.reasons[0] for r in recs}) == 3, [r.reasons[0] for r in recs]


def test_trade_off_is_relative_to_the_other_picks():
    everything = {c.id: (True, "") for c in CARDS}
    _, recs = recommend("quick draft of a mountain lake", CARDS, everything,
                        vocabularies=VOCAB, limit=3)
    top = recs[0]
    assert top.model == "flux-2-klein"
    trade = top.reasons[-1]
    assert "1 credit per image" in trade and "instant tier" in trade
    assert "the fastest here" not in trade or all(r.tier != "instant" for r in recs[1:])
    _, recs = recommend('a neon sign that says "OPEN"', CARDS, everything, limit=3)
    assert recs[0].model == "nano-banana-2"
    assert "your prompt says" in recs[0].reasons[0]
    assert any("more than Nano Banana 2" in r or "less than Nano Banana 2" in r
               or "same price" in r for r in recs[1].reasons)


def test_prompt_kind_is_the_strongest_intent():
    assert prompt_kind("a minimalist logo for a coffee shop") == "design"
    assert prompt_kind('a sign that says "OPEN"') == "text"
    assert prompt_kind("a cat on a sofa") == "general"
