"""Ground-truth targets for the judge, read off a Scene, and the judge's training scenes.

The judge trains on the whole world ("any" split: it must read held-out compositions too),
with more text than the generators see, plus judge-only scenes a generator might produce:
blank backgrounds and clutter (several different objects at once).
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import torch

from triptych.world.render import _text_font, render, text_width
from triptych.world.sampling import TEXT_MAX_WIDTH, TEXT_SIZES, _obj, sample_scene
from triptych.world.scene import CANVAS, GRID, Scene
from triptych.world.vocab import COLOUR_NAMES, EMOJI, LETTERS, MAX_WORD_LEN, OBJECTS, SHAPES

IGNORE = -100  # cross-entropy ignore_index
CLASS_INDEX = {name: i + 1 for i, name in enumerate(OBJECTS)}  # 0 = empty slot
COLOUR_INDEX = {name: i for i, name in enumerate(COLOUR_NAMES)}
CHAR_INDEX = {ch: i + 1 for i, ch in enumerate(LETTERS)}  # 0 = blank

TEXT_COLUMNS = 32  # the text head reads 32 columns of 2 px
COLUMN_PX = CANVAS // TEXT_COLUMNS

JUDGE_KINDS: dict[str, float] = {  # more text than generators see: reading is the slow skill
    "single": 0.13, "pair": 0.19, "count": 0.19, "shapes": 0.14, "text": 0.35,
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


def random_word_scene(rng: random.Random) -> Scene:
    """A text scene whose word is 2-6 random letters: reading must not lean on the word list
    (a head that has only seen it reads unseen strings by guessing the nearest listed word)."""
    word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, MAX_WORD_LEN)))
    base = sample_scene(rng, "any", kinds={"text": 1.0})
    fitting = [s for s in TEXT_SIZES if text_width(word, s) <= TEXT_MAX_WIDTH] or [TEXT_SIZES[0]]
    size = rng.choice(fitting[-2:])
    slack = max(0, (TEXT_MAX_WIDTH - text_width(word, size)) // 2)
    return replace(base, word=word, text_size=size,
                   text_dx=rng.randint(-min(slack, 4), min(slack, 4)))


def judge_kinds(text_share: float) -> dict[str, float]:
    """JUDGE_KINDS with text at ``text_share`` of world scenes, the other layouts rescaled."""
    if text_share == JUDGE_KINDS["text"]:
        return JUDGE_KINDS
    rest = sum(v for k, v in JUDGE_KINDS.items() if k != "text")
    return {k: text_share if k == "text" else v * (1 - text_share) / rest
            for k, v in JUDGE_KINDS.items()}


def judge_scene(rng: random.Random, kinds: dict[str, float] = JUDGE_KINDS,
                random_words: float = 0.0) -> Scene:
    """One training scene; ``random_words``: share of text scenes given a random string."""
    u = rng.random()
    if u < BLANK_PROB:
        return Scene(kind="single", background=rng.choice(COLOUR_NAMES))
    if u < BLANK_PROB + CLUTTER_PROB:
        return _clutter(rng)
    scene = sample_scene(rng, "any", kinds=kinds)
    if random_words and scene.word and rng.random() < random_words:
        return random_word_scene(rng)
    return scene


def column_targets(scene: Scene, shift_x: float = 0.0) -> np.ndarray:
    """[32] letter id at the column holding each letter's centre, 0 (blank) elsewhere.

    The renderer knows where every letter is, so the text head gets dense per-column
    supervision (a fixed alignment) instead of CTC's search. ``shift_x``: how far augmentation
    moved the content to the right, in px.
    """
    cols = np.zeros(TEXT_COLUMNS, dtype=np.int64)
    if not scene.word:
        return cols
    font = _text_font(scene.text_size)
    left = CANVAS / 2 + scene.text_dx - font.getlength(scene.word) / 2 + shift_x
    for i, ch in enumerate(scene.word):
        centre = left + font.getlength(scene.word[:i]) + font.getlength(ch) / 2
        c = int(np.clip(centre // COLUMN_PX, 0, TEXT_COLUMNS - 1))
        while cols[c] and c < TEXT_COLUMNS - 1:  # two centres in one column: keep order
            c += 1
        cols[c] = CHAR_INDEX[ch]
    return cols


def targets(scene: Scene, shift_x: float = 0.0) -> dict[str, np.ndarray]:
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
        "chars": chars,  # [6] left-aligned letters (metrics)
        "columns": column_targets(scene, shift_x),  # [32] per-column letters (text head)
        "word_colour": np.int64(COLOUR_INDEX[scene.word_colour] if scene.word_colour else IGNORE),
    }


def stack_targets(scenes: list[Scene], shifts_x: list[float] | None = None
                  ) -> dict[str, torch.Tensor]:
    ts = [targets(s, shifts_x[i] if shifts_x else 0.0) for i, s in enumerate(scenes)]
    return {k: torch.from_numpy(np.stack([t[k] for t in ts])) for k in ts[0]}


def batch(scenes: list[Scene]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Render scenes -> (uint8 images [B, 64, 64, 3], stacked targets)."""
    images = np.stack([np.asarray(render(s)) for s in scenes])  # [B, 64, 64, 3]
    ts = [targets(s) for s in scenes]
    stacked = {k: torch.from_numpy(np.stack([t[k] for t in ts])) for k in ts[0]}
    return torch.from_numpy(images), stacked


def sample_batch(n: int, seed: int, text_share: float = JUDGE_KINDS["text"],
                 random_words: float = 0.0
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor], list[Scene]]:
    rng = random.Random(seed)
    kinds = judge_kinds(text_share)
    scenes = [judge_scene(rng, kinds, random_words) for _ in range(n)]
    images, tgt = batch(scenes)
    return images, tgt, scenes
