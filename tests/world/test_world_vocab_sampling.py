"""World vocabulary, seeded sampling and held-out splits."""

from __future__ import annotations

import json
import random

import pytest

from triptych.world.sampling import is_heldout_scene, sample_scene
from triptych.world.scene import Scene
from triptych.world.vocab import (
    COLOURS,
    EMOJI,
    HELDOUT_PAIRS,
    HELDOUT_SHAPES,
    OBJECTS,
    RELATIONS,
    SHAPES,
    WORDS,
)

REQUIRED_EMOJI = (
    "dog cat rabbit fox frog fish bird turtle apple banana cherries pizza cake car bus rocket "
    "airplane bicycle house tree flower sun moon umbrella"
).split()


def test_vocabulary_covers_the_issue() -> None:
    assert set(REQUIRED_EMOJI) <= set(EMOJI)
    assert SHAPES == ("circle", "square", "triangle", "star")
    assert OBJECTS == tuple(EMOJI) + SHAPES
    assert len(COLOURS) == 10
    assert RELATIONS == ("left of", "right of", "above", "below")
    assert len(WORDS) >= 100 and len(set(WORDS)) == len(WORDS)
    assert all(w.isalpha() and w.isupper() and 2 <= len(w) <= 6 for w in WORDS)


def test_heldout_lists_are_valid() -> None:
    for a, rel, b in HELDOUT_PAIRS:
        assert a in EMOJI and b in EMOJI and rel in RELATIONS and a != b
    for colour, shape in HELDOUT_SHAPES:
        assert colour in COLOURS and shape in SHAPES


def test_sampling_is_deterministic() -> None:
    a = [sample_scene(random.Random(7)) for _ in range(1)]
    b = [sample_scene(random.Random(7)) for _ in range(1)]
    assert a == b


@pytest.mark.parametrize("split", ["train", "heldout", "any"])
def test_splits_respect_heldout(split: str) -> None:
    rng = random.Random(3)
    kinds = set()
    for _ in range(4000):
        scene = sample_scene(rng, split)
        kinds.add(scene.kind)
        if split == "train":
            assert not is_heldout_scene(scene)
        elif split == "heldout":
            assert is_heldout_scene(scene)
        # structural invariants
        slots = [o.slot for o in scene.objects]
        assert len(set(slots)) == len(slots)
        for o in scene.objects:
            assert (o.colour is not None) == (o.name in SHAPES)
            assert o.colour != scene.background
        if scene.kind == "count":
            assert scene.count == len(scene.objects) and 1 <= scene.count <= 4
        if scene.kind == "text":
            assert scene.word in WORDS and scene.word_colour != scene.background
    expected = {"single", "pair", "count", "shapes"} | ({"text"} if split != "heldout" else set())
    assert kinds == expected


def test_pair_geometry_matches_relation() -> None:
    rng = random.Random(5)
    for _ in range(1000):
        scene = sample_scene(rng, "any", kinds={"pair": 1.0})
        a, b = scene.objects
        dx, dy = b.col - a.col, b.row - a.row
        expected = {"left of": (dx > 0 and dy == 0), "right of": (dx < 0 and dy == 0),
                    "above": (dy > 0 and dx == 0), "below": (dy < 0 and dx == 0)}
        assert expected[scene.relation]


def test_scene_json_round_trip() -> None:
    rng = random.Random(11)
    for _ in range(200):
        scene = sample_scene(rng, "any")
        data = json.loads(json.dumps(scene.to_dict()))
        assert Scene.from_dict(data) == scene
