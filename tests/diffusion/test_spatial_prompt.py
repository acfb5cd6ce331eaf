"""Reading the one spatial relation a prompt states (for the layout check)."""

from __future__ import annotations

import pytest

from triptych.diffusion.spatial_prompt import SpatialRelation, find_relation


@pytest.mark.parametrize(("prompt", "subject", "relation", "reference"), [
    ("a dog to the left of a cat", "a dog", "left of", "a cat"),
    ("A photo of a green square over a frog.", "a green square", "above", "a frog"),
    ("a bus is on the right-hand side of a red apple", "a bus", "right of", "a red apple"),
    ("a cat sitting underneath a wooden table", "a cat", "below", "a wooden table"),
    ("a kite higher up than a house", "a kite", "above", "a house"),
    ("a cake with a dog above it", "a dog", "above", "a cake"),
    ("a kitty with a puppy on its left", "a puppy", "left of", "a kitty"),
    ("there is an apple, and a little house sits right of it", "a little house", "right of",
     "an apple"),
    ("a simple drawing in which a city bus is placed beneath a frog", "a city bus", "below",
     "a frog"),
])
def test_relations_in_several_constructions(prompt, subject, relation, reference) -> None:
    found = find_relation(prompt)
    assert found == SpatialRelation(subject, relation, reference, None)


@pytest.mark.parametrize(("prompt", "colour"), [
    ("a dog left of a cat on a red background", "red"),
    ("a dog left of a cat against a plain orange backdrop", "orange"),
    ("a dog left of a cat, the whole background painted violet", "violet"),
    ("a dog left of a cat with everything behind it coloured blue", "blue"),
    ("a dog left of a cat, a green backdrop behind it", "green"),
])
def test_the_background_is_kept_for_both_things_alone(prompt, colour) -> None:
    found = find_relation(prompt)
    assert found is not None and (found.subject, found.reference) == ("a dog", "a cat")
    article = "an" if colour[0] in "aeiou" else "a"
    assert found.alone() == (f"a dog on {article} {colour} background",
                             f"a cat on {article} {colour} background")


@pytest.mark.parametrize("prompt", [
    "a red circle and a blue square",  # no relation
    "a dog",
    "",
    "the word OVER in red",  # words to draw, not to obey
    'a sign that says "LEFT OF"',
    "a dog above a cat left of a bird",  # two relations: which to enforce is unclear
    "left of a cat",  # no subject
    "a dog above it",  # a pronoun with no antecedent
])
def test_no_relation_or_an_unclear_one_gives_none(prompt) -> None:
    assert find_relation(prompt) is None


def test_axis() -> None:
    assert find_relation("a dog right of a cat").axis == "x"
    assert find_relation("a dog under a cat").axis == "y"


def test_every_phrase_of_the_training_captions_is_read() -> None:
    """The models were trained on the world's relation phrases: the check must know them all."""
    from triptych.world.captions import RELATION_PHRASES

    for relation, phrases in RELATION_PHRASES.items():
        for phrase in phrases:
            found = find_relation(f"a dog {phrase} a cat")
            assert found == SpatialRelation("a dog", relation, "a cat"), phrase
