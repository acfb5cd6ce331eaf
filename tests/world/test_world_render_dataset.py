"""Rendering and the seeded dataset."""

from __future__ import annotations

import random

import numpy as np

from triptych.world.dataset import make_pairs, render_batch
from triptych.world.render import emoji_glyph, render
from triptych.world.sampling import sample_scene
from triptych.world.vocab import COLOURS, EMOJI


def test_every_emoji_renders() -> None:
    for name in EMOJI:
        glyph = emoji_glyph(name, 20)
        assert glyph.mode == "RGBA" and max(glyph.size) == 20
        assert np.asarray(glyph)[..., 3].max() > 200  # not blank


def test_render_is_deterministic_and_rgb() -> None:
    rng = random.Random(0)
    for _ in range(50):
        scene = sample_scene(rng, "any")
        a, b = render(scene), render(scene)
        assert a.mode == "RGB" and a.size == (64, 64)
        assert a.tobytes() == b.tobytes()
        corner = np.asarray(a)[0, 0]
        assert tuple(corner) == COLOURS[scene.background]  # corners stay background
    assert render(scene, size=32).size == (32, 32)


def test_objects_and_words_change_pixels() -> None:
    rng = random.Random(1)
    for _ in range(50):
        scene = sample_scene(rng, "any")
        arr = np.asarray(render(scene)).reshape(-1, 3)
        differs = (arr != np.array(COLOURS[scene.background])).any(axis=1).mean()
        assert differs > 0.01


def test_dataset_is_deterministic() -> None:
    a = make_pairs(20, seed=42)
    b = make_pairs(20, seed=42)
    assert [t for _, t, _ in a] == [t for _, t, _ in b]
    assert all(x.tobytes() == y.tobytes() for (x, _, _), (y, _, _) in zip(a, b, strict=True))
    images, captions, scenes = render_batch(20, seed=42)
    assert images.shape == (20, 64, 64, 3) and images.dtype == np.uint8
    assert captions == [t for _, t, _ in a] and scenes == [s for _, _, s in a]
    assert images[0].tobytes() == a[0][0].tobytes()
    assert render_batch(20, seed=43)[1] != captions


def test_layout_weights_choose_the_kinds() -> None:
    _, _, scenes = render_batch(30, seed=5, kinds={"pair": 1.0, "count": 1.0})
    assert {s.kind for s in scenes} == {"pair", "count"}
    assert render_batch(4, seed=5)[1] == render_batch(4, seed=5, kinds=None)[1]
