"""Captions: several true English phrasings of a scene, and one canonical phrasing.

The grammar (docs/world.md) is deliberately small and closed so that ``parse.parse_prompt``
can invert every phrasing produced here. Numbers appear as words and digits; a background
clause is optional. A pair scene is sometimes described without its relation ("a cat and a
dog"), which is how the two-objects task gets its data.
"""

from __future__ import annotations

import random

from triptych.world.scene import Obj, Scene
from triptych.world.vocab import INVERSE_RELATION, NUMBER_WORDS, plural, singular

PREFIXES = ("", "a photo of ", "a picture of ", "an image of ")
BACKGROUND_CLAUSES = (" on {bg} background", " against {bg} background",
                      " with {bg} background")  # {bg} is "a blue" / "an orange"
RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "left of": ("to the left of", "left of", "on the left of"),
    "right of": ("to the right of", "right of", "on the right of"),
    "above": ("above", "over", "on top of"),
    "below": ("below", "under", "beneath"),
}
BACKGROUND_PROB = 0.6  # how often an optional background clause is added
UNRELATED_PAIR_PROB = 0.25  # pair scenes described as "a and b" (two-objects task)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def noun_phrase(name: str, colour: str | None, n: int = 1) -> str:
    noun = singular(name) if n == 1 else plural(name)
    return f"{colour} {noun}" if colour else noun


def a(obj: Obj) -> str:
    return _article(noun_phrase(obj.name, obj.colour))


def _number(n: int, rng: random.Random | None) -> str:
    return str(n) if rng is not None and rng.random() < 0.4 else NUMBER_WORDS[n]


def _body(scene: Scene, rng: random.Random | None) -> str:
    """The part of a caption before an optional background clause (canonical if rng is None)."""
    pick = (lambda seq: seq[0]) if rng is None else rng.choice
    prefix = "" if rng is None else pick(PREFIXES)
    if scene.kind == "single":
        return prefix + a(scene.objects[0])
    if scene.kind == "pair":
        first, second = scene.objects
        relation = scene.relation or "left of"
        if rng is not None and rng.random() < UNRELATED_PAIR_PROB:
            if rng.random() < 0.5:
                first, second = second, first
            return f"{prefix}{a(first)} and {a(second)}"
        if rng is not None and rng.random() < 0.5:  # the mirrored statement is just as true
            first, second, relation = second, first, INVERSE_RELATION[relation]
        verb = "" if rng is None or prefix else pick(("", "", "is "))
        return f"{prefix}{a(first)} {verb}{pick(RELATION_PHRASES[relation])} {a(second)}"
    if scene.kind == "count":
        obj, n = scene.objects[0], scene.count or len(scene.objects)
        things = f"{_number(n, rng)} {noun_phrase(obj.name, obj.colour, n)}"
        if rng is not None and rng.random() < 0.2:
            return ("there is " if n == 1 else "there are ") + things
        if rng is not None and rng.random() < 0.2:
            return "exactly " + things
        return prefix + things
    if scene.kind == "shapes":
        first, second = scene.objects
        if rng is not None and rng.random() < 0.5:
            first, second = second, first
        joiner = " and " if rng is None else pick((" and ", " and ", " with "))
        return f"{prefix}{a(first)}{joiner}{a(second)}"
    raise ValueError(f"no caption grammar for scene kind {scene.kind!r}")


def _text_caption(scene: Scene, rng: random.Random | None) -> str:
    word, colour, bg = scene.word, scene.word_colour, scene.background
    if rng is None:
        return f"the word {word} in {colour} on {_article(bg)} background"
    with_colour = rng.random() < 0.7
    with_bg = rng.random() < BACKGROUND_PROB
    style = rng.randrange(4)
    if style == 0:
        text = f"the word {word}" + (f" in {colour}" if with_colour else "")
    elif style == 1:
        text = f'a sign that says "{word}"' + (f" in {colour} letters" if with_colour else "")
    elif style == 2:
        text = f'the text "{word}"' + (f" written in {colour}" if with_colour else "")
    else:
        text = f'"{word}"' + (f" in {colour} letters" if with_colour else "")
    if with_bg:
        text += rng.choice((f" on {_article(bg)} background", f" on {bg}"))
    return text


def caption(scene: Scene, rng: random.Random) -> str:
    """One of several true phrasings of ``scene``, chosen with ``rng``."""
    if scene.kind == "text":
        return _text_caption(scene, rng)
    text = _body(scene, rng)
    if rng.random() < BACKGROUND_PROB:
        text += rng.choice(BACKGROUND_CLAUSES).format(bg=_article(scene.background))
    return text


def canonical_caption(scene: Scene) -> str:
    """The one fixed phrasing: always names the background, numbers as words, no prefix."""
    if scene.kind == "text":
        return _text_caption(scene, None)
    return _body(scene, None) + BACKGROUND_CLAUSES[0].format(bg=_article(scene.background))
