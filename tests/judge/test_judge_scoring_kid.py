"""Scoring rules on oracle readouts (one-hot from the true scene), and KID."""

from __future__ import annotations

import random

import numpy as np
import pytest

from triptych.judge.kid import kid
from triptych.judge.labels import targets
from triptych.judge.readout import Readout
from triptych.judge.scoring import cer, levenshtein, relation_holds, score_image
from triptych.world.captions import caption
from triptych.world.parse import parse_prompt
from triptych.world.sampling import sample_scene, scene_from_spec
from triptych.world.scene import Scene


def oracle(scene: Scene) -> Readout:
    """What a perfect judge would read."""
    t = targets(scene)

    def onehot(idx: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros((*np.shape(idx), n))
        np.put_along_axis(out, np.maximum(np.asarray(idx), 0)[..., None], 1.0, axis=-1)
        return out

    columns = t["columns"]  # each letter at its centre column, blank elsewhere
    return Readout(onehot(t["slot_class"], 29), onehot(t["slot_colour"], 10),
                   onehot(t["background"], 10), onehot(t["word_colour"], 10),
                   onehot(columns, 27))


def test_true_scene_passes_every_caption() -> None:
    rng = random.Random(0)
    for _ in range(3000):
        scene = sample_scene(rng, "any")
        spec = parse_prompt(caption(scene, rng))
        score = score_image(spec, oracle(scene))
        assert score.passed and score.all_correct, (spec, scene)
        if spec.task == "text":
            assert score.cer == 0.0


def test_scene_from_spec_satisfies_the_prompt() -> None:
    rng = random.Random(1)
    for _ in range(1000):
        spec = parse_prompt(caption(sample_scene(rng, "any"), rng))
        assert score_image(spec, oracle(scene_from_spec(spec, rng))).all_correct


def test_wrong_scenes_fail() -> None:
    blank = oracle(Scene(kind="single", background="blue"))
    for prompt in ["a dog", "a red circle", "two cats", "a dog left of a cat",
                   "a blue square and a yellow star", "the word CAT", "a dog and a cat"]:
        assert not score_image(parse_prompt(prompt), blank).passed
    assert not score_image(parse_prompt("a dog on a red background"), blank).checks["background"]
    # a colour swap fails attribute binding
    spec = parse_prompt("a blue square and a yellow star")
    swapped = scene_from_spec(parse_prompt("a yellow square and a blue star"), random.Random(0))
    assert not score_image(spec, oracle(swapped)).passed
    # one too many fails counting
    four = scene_from_spec(parse_prompt("four cats"), random.Random(0))
    assert not score_image(parse_prompt("three cats"), oracle(four)).passed


@pytest.mark.parametrize(
    ("a", "b", "relation", "holds"),
    [(0, 1, "left of", True), (0, 2, "left of", True), (1, 0, "left of", False),
     (0, 3, "above", True), (3, 0, "below", True), (0, 4, "left of", True),
     (0, 7, "left of", False), (0, 7, "above", True), (4, 4, "above", False)],
)
def test_relation_rule(a: int, b: int, relation: str, holds: bool) -> None:
    assert relation_holds(a, b, relation) is holds


def test_cer() -> None:
    assert levenshtein("KITTEN", "SITTING") == 3
    assert cer("CAT", "CAT") == 0 and cer("", "CAT") == 1
    assert cer("CUT", "CAT") == pytest.approx(1 / 3)


def test_kid_small_for_same_distribution() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    z = rng.normal(loc=1.0, size=(300, 16))
    same, _ = kid(x, y, subsets=20, subset_size=100)
    diff, _ = kid(x, z, subsets=20, subset_size=100)
    assert abs(same) < 0.05 < diff
