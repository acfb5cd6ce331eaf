"""Ground-truth targets for the judge, read off a Scene, and the judge's training scenes.

The judge trains on the whole world ("any" split: it must read held-out compositions too),
with more text than the generators see, plus judge-only scenes a generator might produce:
blank backgrounds and clutter (several different objects at once).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from triptych.world.render import render
from triptych.world.sampling import _obj, sample_scene
from triptych.world.scene import GRID, Scene
from triptych.world.vocab import COLOUR_NAMES, EMOJI, LETTERS, MAX_WORD_LEN, OBJECTS, SHAPES

IGNORE = -100  # cross-entropy ignore_index
CLASS_INDEX = {name: i + 1 for i, name in enumerate(OBJECTS)}  # 0 = empty slot
COLOUR_INDEX = {name: i for i, name in enumerate(COLOUR_NAMES)}
CHAR_INDEX = {ch: i + 1 for i, ch in enumerate(LETTERS)}  # 0 = blank

JUDGE_KINDS: dict[str, float] = {
    "single": 0.15, "pair": 0.2, "count": 0.2, "shapes": 0.15, "text": 0.3,
}
BLANK_PROB = 0.03  # a bare background: what a collapsed generator draws
CLUTTER_PROB = 0.12  # 0-5 unrelated objects: more variety than any single layout


def _clutter(rng: random.Random) -> Scene:
    n = rng.randint(2, 5)
    objs = []
    used: set[str] = set()
    for slot in rng.sample(range(GRID * GRID), n):
        if rng.random() < 0.4:
            shape = rng.choice(SHAPES)
            colour = rng.choice(COLOUR_NAMES)
            used.add(colour)
            objs.append(_obj(rng, shape, slot, colour))
        else:
            objs.append(_obj(rng, rng.choice(tuple(EMOJI)), slot))
    bg = rng.choice([c for c in COLOUR_NAMES if c not in used] or list(COLOUR_NAMES))
    return Scene(kind="single", background=bg, objects=tuple(sorted(objs, key=lambda o: o.slot)))


def judge_scene(rng: random.Random) -> Scene:
    u = rng.random()
    if u < BLANK_PROB:
        return Scene(kind="single", background=rng.choice(COLOUR_NAMES))
    if u < BLANK_PROB + CLUTTER_PROB:
        return _clutter(rng)
    return sample_scene(rng, "any", kinds=JUDGE_KINDS)


def targets(scene: Scene) -> dict[str, np.ndarray]:
    slots = GRID * GRID
    slot_class = np.zeros(slots, dtype=np.int64)
    slot_colour = np.full(slots, IGNORE, dtype=np.int64)
    for o in scene.objects:
        slot_class[o.slot] = CLASS_INDEX[o.name]
        if o.colour is not None:
            slot_colour[o.slot] = COLOUR_INDEX[o.colour]
    chars = np.zeros(MAX_WORD_LEN, dtype=np.int64)
    for i, ch in enumerate((scene.word or "")[:MAX_WORD_LEN]):
        chars[i] = CHAR_INDEX[ch]
    return {
        "slot_class": slot_class,  # [9]
        "slot_colour": slot_colour,  # [9]
        "background": np.int64(COLOUR_INDEX[scene.background]),
        "chars": chars,  # [6]
        "word_colour": np.int64(COLOUR_INDEX[scene.word_colour] if scene.word_colour else IGNORE),
    }


def batch(scenes: list[Scene]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Render scenes -> (uint8 images [B, 64, 64, 3], stacked targets)."""
    images = np.stack([np.asarray(render(s)) for s in scenes])  # [B, 64, 64, 3]
    ts = [targets(s) for s in scenes]
    stacked = {k: torch.from_numpy(np.stack([t[k] for t in ts])) for k in ts[0]}
    return torch.from_numpy(images), stacked


def sample_batch(n: int, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], list[Scene]]:
    rng = random.Random(seed)
    scenes = [judge_scene(rng) for _ in range(n)]
    images, tgt = batch(scenes)
    return images, tgt, scenes
