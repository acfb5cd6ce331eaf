"""The shipped catalog: every hosted model of the platform at its price, tier and family."""

import pytest

from triptych.catalog import load_catalog
from triptych.catalog.loader import UnknownModelError, parse_catalog

HOSTED = {
    # id: (provider, family, credits, tier)
    "flux-2-klein": ("Black Forest Labs", "distilled-diffusion", 1, "instant"),
    "bitdance": ("fal", "autoregressive", 4, "fast"),
    "flux-pro": ("Black Forest Labs", "diffusion", 5, "fast"),
    "seedream-5": ("ByteDance", "diffusion", 5, "fast"),
    "grok-imagine": ("xAI", "transformer", 7, "fast"),
    "nano-banana-2": ("Google", "diffusion+llm", 8, "medium"),
    "recraft-v4-pro": ("Recraft", "diffusion-transformer", 8, "medium"),
    "nano-banana-pro": ("Google", "diffusion+llm", 15, "premium"),
}


@pytest.mark.parametrize("model_id", sorted(HOSTED))
def test_hosted_model_price_tier_family(model_id):
    card = load_catalog().get(model_id)
    provider, family, credits, tier = HOSTED[model_id]
    assert (card.provider, card.family, card.credits, card.tier) == (provider, family, credits,
                                                                     tier)


def test_capabilities_follow_the_platform_guide():
    catalog = load_catalog()
    assert "text-rendering" in catalog.get("nano-banana-2").capabilities
    assert {"design", "vector"} <= set(catalog.get("recraft-v4-pro").capabilities)
    assert "unrestricted" in catalog.get("grok-imagine").capabilities
    assert "character-consistency" in catalog.get("nano-banana-pro").capabilities
    assert catalog.get("nano-banana-pro").quality == "highest"


BUILTIN = {
    # one per architecture family; id: (family, credits, tier)
    "pico-turbo": ("distilled-diffusion", 1, "instant"),
    "pico-diffusion": ("diffusion", 2, "fast"),
    "pico-bits": ("autoregressive", 2, "fast"),
    "pico-dit": ("diffusion-transformer", 3, "medium"),
    "pico-lm": ("diffusion+llm", 3, "medium"),
}


def test_builtin_models_one_per_family_at_their_price():
    builtin = {c.id: (c.family, c.credits, c.tier) for c in load_catalog() if c.builtin}
    assert builtin == BUILTIN


def test_builtin_models_are_offline_and_cheap():
    catalog = load_catalog()
    builtin = [c for c in catalog if c.builtin]
    assert builtin, "the catalog lists our own models"
    assert all(c.scheme == "builtin" for c in builtin)
    assert min(c.credits for c in builtin if c.tier == "instant") == 1


def test_every_card_has_what_a_user_needs_to_choose():
    for card in load_catalog():
        assert card.name and card.description and card.engine
        assert card.min_width <= card.default_width <= card.max_width
        assert card.min_height <= card.default_height <= card.max_height
        assert card.best_for, f"{card.id} has no 'best for' intent"


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UnknownModelError) as info:
        load_catalog().get("flux-9000")
    assert "flux-pro" in str(info.value)


def test_catalog_rejects_duplicates_and_bad_bindings():
    entry = """[[model]]
id = "a"
name = "A"
provider = "p"
family = "diffusion"
tier = "fast"
credits = 1
quality = "good"
description = "d"
max_width = 64
max_height = 64
default_width = 64
default_height = 64
engine = "%s"
"""
    with pytest.raises(ValueError):
        parse_catalog(entry % "test:a" + entry % "test:a")
    with pytest.raises(ValueError):
        parse_catalog(entry % "no-scheme")
