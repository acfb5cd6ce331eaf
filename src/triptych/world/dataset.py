"""Seeded (image, caption, scene) pairs, rendered on the fly.

The same seed always gives the same scenes, captions and pixels, so a training run can
regenerate its data instead of storing it.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from triptych.world.captions import caption
from triptych.world.render import render
from triptych.world.sampling import sample_scene
from triptych.world.scene import Scene


def sample_scenes(n: int, seed: int, split: str = "train",
                  kinds: dict[str, float] | None = None) -> list[tuple[Scene, str]]:
    """``n`` (scene, caption) pairs from one seeded stream (no rendering); ``kinds`` overrides
    the layout weights."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        scene = sample_scene(rng, split, kinds)
        out.append((scene, caption(scene, rng)))
    return out


def make_pairs(n: int, seed: int, split: str = "train") -> list[tuple[Image.Image, str, Scene]]:
    return [(render(scene), text, scene) for scene, text in sample_scenes(n, seed, split)]


def render_batch(
    n: int, seed: int, split: str = "train", kinds: dict[str, float] | None = None
) -> tuple[np.ndarray, list[str], list[Scene]]:
    """``n`` renders as a uint8 array [n, 64, 64, 3], with their captions and scenes."""
    pairs = sample_scenes(n, seed, split, kinds)
    images = np.empty((n, 64, 64, 3), dtype=np.uint8)  # [n, H, W, RGB]
    for i, (scene, _) in enumerate(pairs):
        images[i] = np.asarray(render(scene))
    return images, [t for _, t in pairs], [s for s, _ in pairs]
