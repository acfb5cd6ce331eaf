"""Find the one spatial relation a free-form prompt states: "A left of B", "A above B", ...

Used by the layout check (``layout_check``), which needs to know which thing the prompt puts
where and how to describe each thing on its own. Deliberately conservative: a prompt with no
relation, several relations, quoted text or anything it cannot split cleanly gives ``None``
(the sampler then leaves the image alone), because acting on a misread relation would undo a
correct layout.

Handled constructions (any relation phrase below, in English word order):

    A [is|sits|...] <relation> B [on a C background]
    B with A <relation> it                  ("a cake with a dog above it")
    B with A on its left|right              ("a kitty with a puppy on its left")
    there is B, and A [sits] <relation> it
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")

_PHRASES: dict[str, str] = {}
for _side in ("left", "right"):
    for _form in (f"to the {_side} of", f"on the {_side} of", f"{_side} of",
                  f"on the {_side}-hand side of", f"to the {_side}-hand side of",
                  f"on the {_side} side of", f"to the {_side} side of"):
        _PHRASES[_form] = f"{_side} of"
_PHRASES |= {p: "above" for p in ("above", "over", "on top of", "atop", "higher up than",
                                  "higher than")}
_PHRASES |= {p: "below" for p in ("below", "under", "underneath", "beneath", "lower down than",
                                  "lower than")}
# "on its left" / "to its right": the pronoun form of the side relations
_ITS = {"on its left": "left of", "to its left": "left of", "on its right": "right of",
        "to its right": "right of"}

_ALTERNATION = "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True))
_RELATION_RE = re.compile(rf"\b(?:{_ALTERNATION})\b")
_ITS_RE = re.compile(r"\b(?:on|to) its (?:left|right)\b")
# background clauses, each capturing the colour; the clause runs to the end of the prompt
_BACKGROUND_RES = tuple(re.compile(r) for r in (
    r"(?:,\s*|\s+)(?:set\s+)?(?:on|against|with|in front of)\s+(?:an?\s+)?(?:plain\s+)?"
    r"(?P<colour>[a-z]+)\s+(?:background|backdrop|wall)\b.*$",
    r"(?:,\s*|\s+)(?:with\s+)?(?:the whole background|everything behind it|the background)"
    r"\s+(?:is\s+)?(?:painted|coloured|colored)?\s*(?P<colour>[a-z]+)\b.*$",
    r",\s*(?:an?\s+)?(?P<colour>[a-z]+)\s+(?:background|backdrop)\b.*$",
))
_LEAD_RE = re.compile(r"^(?:(?:(?:a|an|the)\s+(?:simple\s+)?(?:photo|picture|image|drawing|"
                      r"painting|render|scene|illustration))(?:\s+of|\s+in which|\s+where)"
                      r"\s+|there (?:is|are)\s+)")
_TRAIL_VERB_RE = re.compile(
    r"\s+(?:is|are|sits|sitting|stands|standing|floats|floating|is placed|placed|"
    r"is located|located|is positioned|positioned|appears|hovers|hovering|lies|lying)$")
_PRONOUNS = frozenset(("it", "them", "that", "this"))


@dataclass(frozen=True)
class SpatialRelation:
    subject: str  # noun phrase of A, e.g. "a dog"
    relation: str  # one of RELATIONS: A <relation> B
    reference: str  # noun phrase of B
    background: str | None = None  # "on a red background" when the prompt names one

    @property
    def axis(self) -> str:
        """'x' for left/right (image width), 'y' for above/below (image height)."""
        return "x" if self.relation in ("left of", "right of") else "y"

    def alone(self) -> tuple[str, str]:
        """Prompts for A and B each on their own, with the prompt's background if any."""
        tail = f" {self.background}" if self.background else ""
        return self.subject + tail, self.reference + tail


def _clean(phrase: str) -> str:
    phrase = _LEAD_RE.sub("", phrase.strip(" ,.;:"))
    phrase = _TRAIL_VERB_RE.sub("", phrase).strip(" ,.;:")
    return phrase


def _split_pair(before: str) -> tuple[str, str] | None:
    """'B with A' / 'there is B, and A' -> (B, A): the antecedent of "it" comes first."""
    for joiner in (", and ", " and ", " with ", ", "):
        if joiner in before:
            first, second = before.split(joiner, 1)
            first, second = _clean(first), _clean(second)
            if first and second:
                return first, second
    return None


def find_relation(prompt: str) -> SpatialRelation | None:
    """The single spatial relation ``prompt`` states, or None (see the module docstring)."""
    if '"' in prompt or "“" in prompt or "the word " in prompt.lower():
        return None  # a text prompt: its words are to be drawn, not obeyed
    s = " ".join(prompt.lower().split()).rstrip(".!")
    background = None
    for pattern in _BACKGROUND_RES:
        m = pattern.search(s)
        if m:
            colour = m["colour"]
            background = f"on {'an' if colour[0] in 'aeiou' else 'a'} {colour} background"
            s = s[: m.start()].rstrip(" ,")
            break
    its = list(_ITS_RE.finditer(s))
    found = list(_RELATION_RE.finditer(s))
    if len(its) + len(found) != 1:
        return None  # none, or several: which one to enforce is unclear
    if its:
        hit = its[0]
        pair = _split_pair(s[: hit.start()])
        if pair is None or s[hit.end():].strip(" ,"):
            return None
        reference, subject = pair
        return SpatialRelation(subject, _ITS[hit.group(0)], reference, background)
    hit = found[0]
    relation = _PHRASES[hit.group(0)]
    before, after = _clean(s[: hit.start()]), _clean(s[hit.end():])
    if after in _PRONOUNS:
        pair = _split_pair(s[: hit.start()])
        if pair is None:
            return None
        reference, subject = pair
    else:
        subject, reference = before, after
    if not subject or not reference or subject in _PRONOUNS or reference in _PRONOUNS:
        return None
    return SpatialRelation(subject, relation, reference, background)
