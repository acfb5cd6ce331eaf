"""The sentences that explain one recommendation: why THIS model for THIS prompt.

Each helper looks at one signal the ranking used (the intent it is made for, its strength
closest to the prompt, the words it can or cannot read, the user's own picks, its price and
speed against the other picks) and says it in plain words, or says nothing when that signal
does not single the model out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from triptych.catalog.card import ModelCard, credits_text

if TYPE_CHECKING:
    from triptych.service.recommend import DetectedIntent, Intent

QUALITY_RANK = {"draft": 0, "good": 1, "high": 2, "highest": 3}
# How each family of model works, in the words of a general-picture reason.
FAMILY_WORDS = {
    "diffusion": "is a general-purpose model that refines the whole picture step by step",
    "distilled-diffusion": "is a general-purpose model tuned for speed",
    "autoregressive": "is a general-purpose model that draws the picture piece by piece",
    "transformer": "is a general-purpose model that follows long, precise prompts",
    "diffusion-transformer": "is a general-purpose model that keeps each object's colour "
                             "and place apart",
    "diffusion+llm": "is a general-purpose model in which a language model reads your prompt",
}
CAPABILITY_WORDS = {"text-rendering": "it renders legible words", "photorealism":
                    "it can look like a photo", "design": "it is built for design work",
                    "creative": "it is bold with strange ideas"}


def _quoted(words: Sequence[str], limit: int = 3) -> str:
    shown = [f"“{w}”" for w in words[:limit]]
    more = len(words) - limit
    text = ", ".join(shown)
    return f"{text} and {more} more" if more > 0 else text


def fit_reason(card: ModelCard, matched: DetectedIntent | None, intent: Intent | None,
               primary: DetectedIntent, covered: list[tuple[DetectedIntent, str]]) -> str:
    """The first reason: the need of the prompt this model answers (or that it is a stand-in).
    ``covered``: other detected needs it handles through a capability."""
    if matched is not None and intent is not None and matched.id != "general":
        if matched.keyword:
            because = f"your prompt says “{matched.keyword}”"
        elif matched.example:
            because = f"your prompt reads like “{matched.example}”"
        else:
            because = "that is what your prompt asks for"
        text = f"Made for {intent.label} ({because}): {card.name} {intent.why}."
    elif matched is not None:
        text = (f"A general picture (no text, logo or photo look asked for): {card.name} "
                f"{FAMILY_WORDS.get(card.family, 'is a general-purpose model')}.")
    elif "general" in card.best_for:
        text = (f"Not made for {primary.label}; offered as an alternative: {card.name} "
                f"{FAMILY_WORDS.get(card.family, 'is a general-purpose model')}.")
    else:
        text = f"Not specialised for {primary.label}; listed as an alternative."
    for need, capability in covered:
        text += f" It also covers {need.label}: {CAPABILITY_WORDS.get(capability, capability)}."
    return text


def strength_reason(strength: str | None) -> str | None:
    return f"Good at what this prompt shows: {strength}." if strength else None


def wording_reason(card: ModelCard, missing: list[str] | None, hard: list[str],
                   closed_names: list[str]) -> str | None:
    """``missing``: the prompt's words this model cannot read (None: it reads any words);
    ``hard``: the words some candidate cannot read; ``closed_names``: those candidates."""
    if missing:
        word = "that word" if len(missing) == 1 else "those words"
        return (f"Its word list lacks {_quoted(missing)}: it will ignore {word}, so the picture "
                f"may miss part of the prompt.")
    if missing is None and hard:
        others = ", ".join(closed_names[:2]) if closed_names else "the word-list models"
        if len(closed_names) > 2:
            others += f" and {len(closed_names) - 2} more"
        return (f"Reads free wording: it understands {_quoted(hard)}, which {others} "
                f"cannot read.")
    return None


def picks_reason(card: ModelCard, record: tuple[int, int] | None, kind_label: str,
                 moved: float) -> str | None:
    """``moved``: how much the picks changed its fit (up or down)."""
    if not record or not record[1]:
        return None
    wins, shown = record
    said = "ranks it higher" if moved >= 0 else "ranks it lower"
    return (f"Your picks: you chose {card.name} in {wins} of {shown} comparisons of "
            f"{kind_label} prompts, which {said}.")


def trade_off(card: ModelCard, chosen: Sequence[ModelCard]) -> str:
    """Price, speed and quality, and where they stand against the other picks."""
    text = (f"Trade-off: {credits_text(card.credits)} per image, {card.tier} tier, "
            f"{card.quality} quality")
    others = [c for c in chosen if c.id != card.id]
    if not others:
        return text + "."
    notes = []
    if all(card.credits < c.credits for c in others):
        notes.append("the cheapest here")
    if all(card.tier_rank < c.tier_rank for c in others):
        notes.append("the fastest here")
    rank = QUALITY_RANK.get(card.quality, 0)
    if all(rank > QUALITY_RANK.get(c.quality, 0) for c in others):
        notes.append("the best quality here")
    if not notes and chosen[0].id != card.id:
        top = chosen[0]
        delta = card.credits - top.credits
        if delta:
            notes.append(f"{credits_text(abs(delta))} {'more' if delta > 0 else 'less'} than "
                         f"{top.name}")
        elif card.tier_rank != top.tier_rank:
            notes.append(f"{'slower' if card.tier_rank > top.tier_rank else 'faster'} than "
                         f"{top.name}")
        else:
            notes.append(f"same price and speed as {top.name}")
    return text + ("; " + ", ".join(notes) if notes else "") + "."
