"""Seeded sampling of scenes, with train / held-out splits.

``sample_scene(rng, split)`` draws one scene. The "train" split never produces a held-out
composition (vocab.HELDOUT_PAIRS in either direction, vocab.HELDOUT_SHAPES anywhere in the
scene); "heldout" produces only scenes that contain one; "any" draws from the whole world.
All jitter is decided here so that rendering is a pure function of the scene.
"""

from __future__ import annotations

import random

from triptych.world.scene import GRID, Obj, Scene
from triptych.world.vocab import (
    COLOUR_NAMES,
    EMOJI,
    HELDOUT_PAIRS,
    HELDOUT_SHAPES,
    INVERSE_RELATION,
    RELATIONS,
    SHAPES,
    WORDS,
    is_heldout_pair,
    is_heldout_shape,
)

SPLITS = ("train", "heldout", "any")

# How often each layout is drawn. Text is a fifth of the world: it is the hardest task for a
# 16×16 latent and needs the data.
TRAIN_KIND_WEIGHTS: dict[str, float] = {
    "single": 0.20, "pair": 0.25, "count": 0.20, "shapes": 0.15, "text": 0.20,
}
# Held-out compositions only exist for pairs and coloured shapes.
HELDOUT_KIND_WEIGHTS: dict[str, float] = {
    "pair": 0.45, "shapes": 0.30, "single": 0.15, "count": 0.10,
}

SIZE_RANGE = (16, 20)  # object size in px: fits a 21 px slot with the jitter below
JITTER = 2  # max |dx|, |dy| in px
SHAPE_PROB = 0.3  # chance that a single / counted / paired object is a coloured shape
TEXT_MAX_WIDTH = 58  # px: words must fit the 64 px canvas with a small margin
TEXT_SIZES = (12, 13, 14, 15, 16)

_EMOJI_NAMES = tuple(EMOJI)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def _obj(rng: random.Random, name: str, slot: int, colour: str | None = None) -> Obj:
    return Obj(
        name=name, slot=slot, colour=colour, size=rng.randint(*SIZE_RANGE),
        dx=rng.randint(-JITTER, JITTER), dy=rng.randint(-JITTER, JITTER),
    )


def _background(rng: random.Random, avoid: set[str]) -> str:
    return rng.choice([c for c in COLOUR_NAMES if c not in avoid])


def _shape_colour(rng: random.Random, shape: str, split: str, avoid: set[str] = frozenset()) -> str:
    options = [c for c in COLOUR_NAMES if c not in avoid]
    if split == "train":
        options = [c for c in options if not is_heldout_shape(c, shape)]
    elif split == "heldout":
        options = [c for c in options if is_heldout_shape(c, shape)]
    return rng.choice(options)


def _thing(rng: random.Random, split: str) -> tuple[str, str | None]:
    """An object name and its colour (None for emoji), never held-out unless split allows."""
    if rng.random() < SHAPE_PROB:
        shape = rng.choice(SHAPES)
        return shape, _shape_colour(rng, shape, "train" if split == "train" else "any")
    return rng.choice(_EMOJI_NAMES), None


def _heldout_shape(rng: random.Random) -> tuple[str, str]:
    colour, shape = rng.choice(HELDOUT_SHAPES)
    return shape, colour


def _single(rng: random.Random, split: str) -> Scene:
    if split == "heldout":
        name, colour = _heldout_shape(rng)
    else:
        name, colour = _thing(rng, split)
    obj = _obj(rng, name, rng.randrange(GRID * GRID), colour)
    return Scene(kind="single", background=_background(rng, {colour} if colour else set()),
                 objects=(obj,))


def _pair_slots(rng: random.Random, relation: str) -> tuple[int, int]:
    """Slots for A and B such that A <relation> B, in one row (left/right) or column."""
    lo, hi = rng.choice([(0, 1), (1, 2), (0, 2)])
    line = rng.randrange(GRID)
    if relation in ("left of", "right of"):
        a, b = line * GRID + lo, line * GRID + hi  # a is left of b
    else:
        a, b = lo * GRID + line, hi * GRID + line  # a is above b
    if relation in ("right of", "below"):
        a, b = b, a
    return a, b


def _pair(rng: random.Random, split: str) -> Scene:
    if split == "heldout":
        a_name, relation, b_name = rng.choice(HELDOUT_PAIRS)
        if rng.random() < 0.5:  # also draw the mirrored statement of the same composition
            a_name, relation, b_name = b_name, INVERSE_RELATION[relation], a_name
        a_col = b_col = None
    else:
        while True:
            (a_name, a_col), (b_name, b_col) = _thing(rng, split), _thing(rng, split)
            relation = rng.choice(RELATIONS)
            if a_name == b_name:
                continue
            if split == "train" and is_heldout_pair(a_name, relation, b_name):
                continue
            break
    sa, sb = _pair_slots(rng, relation)
    objs = (_obj(rng, a_name, sa, a_col), _obj(rng, b_name, sb, b_col))
    avoid = {c for c in (a_col, b_col) if c}
    return Scene(kind="pair", background=_background(rng, avoid), objects=objs,
                 relation=relation)


def _count(rng: random.Random, split: str) -> Scene:
    n = rng.randint(1, 4)
    if split == "heldout":
        name, colour = _heldout_shape(rng)
    else:
        name, colour = _thing(rng, split)
    slots = rng.sample(range(GRID * GRID), n)
    objs = tuple(_obj(rng, name, s, colour) for s in sorted(slots))
    return Scene(kind="count", background=_background(rng, {colour} if colour else set()),
                 objects=objs, count=n)


def _shapes(rng: random.Random, split: str) -> Scene:
    s1, s2 = rng.sample(SHAPES, 2)
    if split == "heldout":
        s1, c1 = _heldout_shape(rng)
        s2 = rng.choice([s for s in SHAPES if s != s1])
        c2 = _shape_colour(rng, s2, "any", avoid={c1})
    else:
        c1 = _shape_colour(rng, s1, split)
        c2 = _shape_colour(rng, s2, split, avoid={c1})
    slot1, slot2 = rng.sample(range(GRID * GRID), 2)
    objs = (_obj(rng, s1, slot1, c1), _obj(rng, s2, slot2, c2))
    return Scene(kind="shapes", background=_background(rng, {c1, c2}), objects=objs)


def _text(rng: random.Random) -> Scene:
    from triptych.world.render import text_width  # Pillow font metrics, cached

    word = rng.choice(WORDS)
    colour = rng.choice(COLOUR_NAMES)
    fitting = [s for s in TEXT_SIZES if text_width(word, s) <= TEXT_MAX_WIDTH] or [TEXT_SIZES[0]]
    size = rng.choice(fitting[-2:])  # as large as fits: legibility after an autoencoder
    slack = max(0, (TEXT_MAX_WIDTH - text_width(word, size)) // 2)
    return Scene(
        kind="text", background=_background(rng, {colour}), word=word, word_colour=colour,
        text_size=size, text_dx=rng.randint(-min(slack, 4), min(slack, 4)),
        text_dy=rng.randint(-8, 8),
    )


def sample_scene(rng: random.Random, split: str = "train",
                 kinds: dict[str, float] | None = None) -> Scene:
    """Draw one scene. ``kinds`` overrides the layout weights (e.g. ``{"text": 1.0}``)."""
    _check_split(split)
    weights = kinds or (HELDOUT_KIND_WEIGHTS if split == "heldout" else TRAIN_KIND_WEIGHTS)
    kind = rng.choices(list(weights), weights=list(weights.values()))[0]
    if split == "heldout" and kind == "text":
        raise ValueError("the heldout split has no text scenes")
    if kind == "single":
        return _single(rng, split)
    if kind == "pair":
        return _pair(rng, split)
    if kind == "count":
        return _count(rng, split)
    if kind == "shapes":
        return _shapes(rng, split)
    if kind == "text":
        return _text(rng)
    raise ValueError(f"unknown scene kind {kind!r}")


def is_heldout_scene(scene: Scene) -> bool:
    """True if the scene contains any held-out composition."""
    if any(o.colour and is_heldout_shape(o.colour, o.name) for o in scene.objects):
        return True
    if scene.kind == "pair" and scene.relation:
        a, b = scene.objects
        return is_heldout_pair(a.name, scene.relation, b.name)
    return False


def scene_from_spec(spec, rng: random.Random) -> Scene:
    """A scene that satisfies a parsed prompt (``parse.PromptSpec``), unasked details random.

    The ground truth for a prompt: what a perfect generator would draw (used by tests and as
    a reference render). Does not consult the splits.
    """
    from triptych.world.render import text_width

    asked = {o.colour for o in spec.objects if o.colour}
    if spec.task == "text":
        word = spec.word or "A"
        colour = spec.word_colour or rng.choice(
            [c for c in COLOUR_NAMES if c != spec.background])
        bg = spec.background or _background(rng, {colour})
        fitting = [s for s in TEXT_SIZES if text_width(word, s) <= TEXT_MAX_WIDTH] or [12]
        return Scene(kind="text", background=bg, word=word, word_colour=colour,
                     text_size=fitting[-1])
    bg = spec.background or _background(rng, asked)

    def colour_for(obj) -> str | None:
        if obj.name not in SHAPES:
            return None
        return obj.colour or rng.choice([c for c in COLOUR_NAMES if c != bg])

    objs = spec.objects
    if spec.task == "position":
        sa, sb = _pair_slots(rng, spec.relation or "left of")
        placed = (_obj(rng, objs[0].name, sa, colour_for(objs[0])),
                  _obj(rng, objs[1].name, sb, colour_for(objs[1])))
        return Scene(kind="pair", background=bg, objects=placed, relation=spec.relation)
    if spec.task == "counting":
        n = spec.count or 1
        colour = colour_for(objs[0])
        slots = sorted(rng.sample(range(GRID * GRID), n))
        return Scene(kind="count", background=bg, count=n,
                     objects=tuple(_obj(rng, objs[0].name, s, colour) for s in slots))
    slots = rng.sample(range(GRID * GRID), len(objs))
    placed = tuple(_obj(rng, o.name, s, colour_for(o)) for o, s in zip(objs, slots, strict=True))
    kind = "single" if len(placed) == 1 else "shapes"
    return Scene(kind=kind, background=bg, objects=placed)
