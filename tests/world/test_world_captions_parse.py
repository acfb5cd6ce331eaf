"""Captions and the prompt parser: every phrasing parses back to the scene it describes."""

from __future__ import annotations

import random

import pytest

from triptych.world.captions import canonical_caption, caption
from triptych.world.parse import PromptParseError, PromptSpec, parse_prompt
from triptych.world.sampling import sample_scene
from triptych.world.scene import Scene
from triptych.world.vocab import INVERSE_RELATION


def _consistent(spec: PromptSpec, scene: Scene, *, full: bool = False) -> None:
    if spec.background is not None or full:
        assert spec.background == scene.background
    asked = [(o.name, o.colour) for o in spec.objects]
    if scene.kind == "text":
        assert spec.task == "text" and spec.word == scene.word
        assert spec.word_colour in (None, scene.word_colour)
        if full:
            assert spec.word_colour == scene.word_colour
        return
    truth = [(o.name, o.colour) for o in scene.objects]
    if scene.kind == "single":
        assert asked == truth
        assert spec.task == ("colors" if truth[0][1] else "single_object")
    elif scene.kind == "count":
        assert spec.task == "counting" and spec.count == scene.count and asked == truth[:1]
    elif scene.kind == "shapes":
        assert spec.task == "attribute_binding" and sorted(asked) == sorted(truth)
    elif scene.kind == "pair":
        if spec.task == "position":
            direct = (asked, spec.relation) == (truth, scene.relation)
            mirrored = (asked, spec.relation) == (truth[::-1], INVERSE_RELATION[scene.relation])
            assert direct or mirrored
        else:
            assert not full
            assert spec.task in ("two_objects", "attribute_binding")
            assert sorted(asked) == sorted(truth)


@pytest.mark.parametrize("split", ["train", "heldout", "any"])
def test_every_caption_parses(split: str) -> None:
    rng = random.Random(123)
    tasks = set()
    for _ in range(5000):
        scene = sample_scene(rng, split)
        text = caption(scene, rng)
        spec = parse_prompt(text)
        tasks.add(spec.task)
        _consistent(spec, scene)
    expected = {"colors", "counting", "position", "attribute_binding", "two_objects"}
    if split != "heldout":  # held-out compositions are coloured shapes and emoji pairs only
        expected |= {"single_object", "text"}
    assert expected <= tasks


def test_canonical_caption_is_complete() -> None:
    rng = random.Random(9)
    for _ in range(2000):
        scene = sample_scene(rng, "any")
        spec = parse_prompt(canonical_caption(scene))
        _consistent(spec, scene, full=True)


def test_several_phrasings_per_structure() -> None:
    rng = random.Random(4)
    for kind in ("single", "pair", "count", "shapes", "text"):
        scene = sample_scene(random.Random(0), "any", kinds={kind: 1.0})
        assert len({caption(scene, rng) for _ in range(200)}) >= 3


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a red circle", dict(task="colors", count=None)),
        ("two cats", dict(task="counting", count=2)),
        ("3 blue stars on a white background", dict(task="counting", count=3, background="white")),
        ("an apple to the left of a dog", dict(task="position", relation="left of")),
        ("a blue square and a yellow star", dict(task="attribute_binding")),
        ("a rocket on a green background", dict(task="single_object", background="green")),
        ("the word CAT in white on a black background",
         dict(task="text", word="CAT", word_colour="white", background="black")),
        ('a sign that says "OPEN"', dict(task="text", word="OPEN")),
        ("the word cat in white on black", dict(task="text", word="CAT", background="black")),
        ("A Dog And A Cat.", dict(task="two_objects")),
    ],
)
def test_examples(prompt: str, expected: dict) -> None:
    spec = parse_prompt(prompt)
    for key, value in expected.items():
        assert getattr(spec, key) == value, key


@pytest.mark.parametrize(
    "prompt",
    ["", "a purple elephant", "a red dog", "five cats", "a cat on a plaid background",
     "a dog to the left of", "the word CATAPULT", "draw me something nice"],
)
def test_unparseable_prompts_raise_clearly(prompt: str) -> None:
    with pytest.raises(PromptParseError) as info:
        parse_prompt(prompt)
    assert "Cannot parse prompt" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_spec_round_trips_through_dict() -> None:
    spec = parse_prompt("a red circle above a dog on a blue background")
    assert PromptSpec.from_dict(spec.to_dict()) == spec
