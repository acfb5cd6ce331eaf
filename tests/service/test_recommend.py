"""The recommender follows the platform's guidance, by keyword and by meaning."""

import pytest

from triptych.catalog import load_catalog
from triptych.service.recommend import detect_intents, recommend

CARDS = list(load_catalog())
ALL_AVAILABLE = {c.id: (True, "") for c in CARDS}

CASES = {
    "flux-2-klein": ["quick draft of a mountain lake", "I need something immediately, no time "
                     "to wait", "a rough first pass to see the layout"],
    "bitdance": ["a photo of a golden retriever on a beach", "an image that looks like it was "
                 "shot with a real camera, an elderly man smiling", "lifelike picture of a rainy "
                 "street, indistinguishable from reality"],
    "flux-pro": ["a cozy cabin in the woods", "a bowl of fruit on a table",
                 "a castle on a hill at sunset"],
    "nano-banana-2": ['a neon sign that says "OPEN"', "a storefront board reading welcome home",
                      "a coffee mug with good morning printed on it"],
    "recraft-v4-pro": ["a logo for a bakery", "an emblem for my startup's brand",
                       "a graphic to promote our sale on twitter"],
    "grok-imagine": ["a surreal melting clock forest", "a giraffe made of spaghetti conducting "
                     "an orchestra on the moon", "an elephant knitting a sweater on a cloud"],
    "nano-banana-pro": ["the hero image for our landing page", "the polished definitive "
                        "version for the magazine cover", "top quality artwork for the album "
                        "release"],
}


@pytest.mark.parametrize(("expected", "prompt"),
                         [(m, p) for m, prompts in CASES.items() for p in prompts])
def test_guidance_model_ranks_first(expected, prompt):
    _, recs = recommend(prompt, CARDS, ALL_AVAILABLE)
    assert recs[0].model == expected, [r.model for r in recs]


def test_a_logo_with_text_is_still_a_design_job():
    _, recs = recommend('a logo with the text "ACME"', CARDS, ALL_AVAILABLE)
    assert recs[0].model == "recraft-v4-pro"


def test_reading_a_book_is_not_text_in_the_image():
    assert detect_intents("a man reading a book by the fire")[0].score < 0.45


def test_reasons_name_the_intent_and_the_trade_off():
    _, recs = recommend('a bakery sign that says "FRESH BREAD"', CARDS, ALL_AVAILABLE)
    top = recs[0]
    assert "text inside the image" in top.reasons[0]
    assert any("8 credits" in r and "medium tier" in r for r in top.reasons)


def test_paraphrase_without_keywords_is_caught_semantically():
    intents = detect_intents("an elephant knitting a sweater on a cloud")
    assert intents[0].id == "creative"
    assert any("reads like" in e for e in intents[0].evidence)
    assert detect_intents("an elephant knitting a sweater on a cloud", semantic=False)[0].score == 0


def test_only_runnable_models_unless_all():
    availability = {c.id: (c.builtin, "no key") for c in CARDS}
    _, recs = recommend('a sign that says "OPEN"', CARDS, availability)
    assert recs and all(r.available for r in recs)
    _, recs = recommend('a sign that says "OPEN"', CARDS, availability,
                        include_unavailable=True)
    assert recs[0].model == "nano-banana-2" and not recs[0].available
    assert "no key" in recs[0].reasons[-1]


def test_budget_and_speed_filters():
    _, recs = recommend("the hero image for our landing page", CARDS, ALL_AVAILABLE, budget=8)
    assert recs and all(r.credits <= 8 for r in recs)
    _, recs = recommend("a photo of a dog", CARDS, ALL_AVAILABLE, speed="instant")
    assert recs and all(r.tier == "instant" for r in recs)
    _, recs = recommend("a photo of a dog", CARDS, ALL_AVAILABLE, budget=0)
    assert recs == []


def test_client_recommend_reports_intents(tp):
    out = tp.recommend("a logo for a bakery")
    assert out["intents"][0]["id"] == "design"
    assert all(r["available"] for r in out["recommendations"])
