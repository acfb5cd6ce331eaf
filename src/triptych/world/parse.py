"""Parse a prompt in the world's caption language into what it asks for (a PromptSpec).

The inverse of ``captions.caption``: every phrasing it produces parses back to the scene's
checkable attributes (tested on thousands of samples). Each prompt gets one primary task,
GenEval-style; a background clause adds a background check on top of it.

    text            the word W | the text "W" | a sign that says "W" | "W"
                    ... [in C [letters]] [on [a] C [background]]
    position        A <relation phrase> B
    attribute_binding   C1 shape1 and|with C2 shape2     (both coloured)
    two_objects     A and|with B                          (otherwise)
    counting        N things  (N in one..four or 1..4; also "there are", "exactly")
    colors          a C shape
    single_object   a thing
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from triptych.errors import InvalidRequest
from triptych.world.vocab import COLOURS, NUMBER_WORDS, OBJECTS, SHAPES, plural, singular

TASKS: tuple[str, ...] = (
    "single_object", "two_objects", "counting", "colors", "position", "attribute_binding",
    "background", "text",
)

_SINGULAR = {singular(n): n for n in OBJECTS}
_PLURAL = {plural(n): n for n in OBJECTS}
_COLOUR = "|".join(COLOURS)
_NUMBERS = {w: i for i, w in enumerate(NUMBER_WORDS) if i > 0} | {str(i): i for i in range(1, 5)}

_RELATION_PHRASES = {
    "to the left of": "left of", "on the left of": "left of", "left of": "left of",
    "to the right of": "right of", "on the right of": "right of", "right of": "right of",
    "on top of": "above", "above": "above", "over": "above",
    "below": "below", "under": "below", "beneath": "below",
}
_RELATION_RE = re.compile(
    r"^(?P<a>.+?) (?:is )?(?P<rel>"
    + "|".join(sorted(map(re.escape, _RELATION_PHRASES), key=len, reverse=True))
    + r") (?P<b>.+)$"
)
_BACKGROUND_RE = re.compile(r"^(?P<body>.+?) (?:on|against|with) an? (?P<bg>\w+) background$")
_PREFIX_RE = re.compile(r"^(?:a photo of|a picture of|an image of|there is|there are|exactly) ")
_TEXT_RE = re.compile(
    r"^(?:(?P<intro>the word|the text|a sign that says|a sign saying|a sign reading) )?"
    r"(?:\"(?P<quoted>[A-Za-z]+)\"|(?P<bare>[A-Za-z]+))"
    r"(?: (?:written )?in (?P<colour>\w+)(?: letters)?)?"
    r"(?: on (?:an? )?(?P<bg>\w+)(?: background)?)?$"
)


class PromptParseError(InvalidRequest, ValueError):
    """The prompt is outside the world's caption language."""

    code = "unparseable_prompt"


@dataclass(frozen=True)
class ObjectSpec:
    name: str  # a key of vocab.OBJECTS
    colour: str | None = None  # asked colour (shapes), None if unspecified


@dataclass(frozen=True)
class PromptSpec:
    task: str  # primary task, one of TASKS (never "background": that is an added check)
    prompt: str
    objects: tuple[ObjectSpec, ...] = ()
    relation: str | None = None  # position: objects[0] <relation> objects[1]
    count: int | None = None  # counting: exactly this many objects[0]
    background: str | None = None  # asked background colour, if any
    word: str | None = None  # text: the exact word (upper case)
    word_colour: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["objects"] = [asdict(o) for o in self.objects]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptSpec:
        data = dict(data)
        data["objects"] = tuple(ObjectSpec(**o) for o in data.get("objects", ()))
        return cls(**data)


def _fail(prompt: str, why: str) -> PromptParseError:
    return PromptParseError(
        f"Cannot parse prompt {prompt!r}: {why}. Prompts must use the world's caption "
        "language (see docs/world.md), e.g. 'a red circle', 'two cats', "
        "'an apple to the left of a dog', 'the word CAT in white on a black background'.",
        field="prompt",
    )


def _colour(prompt: str, name: str | None) -> str | None:
    if name is None:
        return None
    if name not in COLOURS:
        raise _fail(prompt, f"unknown colour {name!r} (known: {', '.join(COLOURS)})")
    return name


def _object(prompt: str, phrase: str, *, article: bool, n: int = 1) -> ObjectSpec:
    words = phrase.split(" ")
    if article:
        if words[0] not in ("a", "an"):
            raise _fail(prompt, f"expected 'a' or 'an' before {phrase!r}")
        words = words[1:]
    colour = None
    if len(words) == 2:
        colour = _colour(prompt, words[0])
        words = words[1:]
    if len(words) != 1:
        raise _fail(prompt, f"cannot read an object in {phrase!r}")
    nouns = _SINGULAR if n == 1 else _PLURAL
    name = nouns.get(words[0]) or _SINGULAR.get(words[0]) or _PLURAL.get(words[0])
    if name is None:
        raise _fail(prompt, f"unknown object {words[0]!r} (known: {', '.join(_SINGULAR)})")
    if colour is not None and name not in SHAPES:
        raise _fail(prompt, f"only shapes ({', '.join(SHAPES)}) take a colour, not {name!r}")
    return ObjectSpec(name, colour)


def _parse_text(prompt: str, s: str) -> PromptSpec | None:
    m = _TEXT_RE.match(s)
    if m is None:
        return None
    if m["bare"] is not None and m["intro"] is None:
        return None  # a bare word without "the word ..." is not a text prompt
    word = (m["quoted"] or m["bare"]).upper()
    if not 1 <= len(word) <= 6:
        raise _fail(prompt, f"words are 1-6 letters, got {word!r}")
    return PromptSpec(task="text", prompt=prompt, word=word,
                      word_colour=_colour(prompt, m["colour"]),
                      background=_colour(prompt, m["bg"]))


def parse_prompt(text: str) -> PromptSpec:
    """What ``text`` asks for; raises PromptParseError (an InvalidRequest) if out of grammar."""
    prompt = text
    s = " ".join(text.strip().split()).rstrip(".")
    if not s:
        raise _fail(prompt, "it is empty")
    spec = _parse_text(prompt, s)
    if spec is not None:
        return spec
    s = s.lower()
    background = None
    m = _BACKGROUND_RE.match(s)
    if m:
        s, background = m["body"], _colour(prompt, m["bg"])
    s = _PREFIX_RE.sub("", s)

    m = _RELATION_RE.match(s)
    if m:
        a = _object(prompt, m["a"], article=True)
        b = _object(prompt, m["b"], article=True)
        return PromptSpec(task="position", prompt=prompt, objects=(a, b),
                          relation=_RELATION_PHRASES[m["rel"]], background=background)
    for joiner in (" and ", " with "):
        if joiner in s:
            left, right = s.split(joiner, 1)
            a = _object(prompt, left, article=True)
            b = _object(prompt, right, article=True)
            both_coloured = a.colour is not None and b.colour is not None
            return PromptSpec(task="attribute_binding" if both_coloured else "two_objects",
                              prompt=prompt, objects=(a, b), background=background)
    head, _, rest = s.partition(" ")
    if head in _NUMBERS and rest:
        n = _NUMBERS[head]
        return PromptSpec(task="counting", prompt=prompt, count=n, background=background,
                          objects=(_object(prompt, rest, article=False, n=n),))
    obj = _object(prompt, s, article=True)
    task = "colors" if obj.colour is not None else "single_object"
    return PromptSpec(task=task, prompt=prompt, objects=(obj,), background=background)
