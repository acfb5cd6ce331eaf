"""Which model to render a result on next: draft → final points up.

A person who re-renders wants the picture better, so the choices start above the current
model: higher tiers first, in the recommender's order for the prompt (keyword reading only,
so a page that lists choices never waits on the embedding model), the default being the first
of them. Same-tier alternatives follow; cheaper models come last, for a deliberate draft."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from triptych.catalog.card import ModelCard, credits_text
from triptych.service import recommend as recommend_mod

DIRECTIONS = ("up", "same", "down")


@dataclass(frozen=True)
class Choice:
    model: str
    name: str
    tier: str
    credits: int
    direction: str  # up | same | down, against the current model
    reason: str


def direction(current: ModelCard, card: ModelCard) -> str:
    if card.tier_rank > current.tier_rank:
        return "up"
    if card.tier_rank == current.tier_rank and card.credits >= current.credits:
        return "same"
    return "down"


def rerender_choices(current: ModelCard, cards: list[ModelCard],
                     availability: dict[str, tuple[bool, str]],
                     prompt: str) -> dict[str, Any]:
    """``{"current", "default", "choices"}``; ``default`` is None when nothing ranks above
    or beside the current model (it is already the best there is here)."""
    others = [c for c in cards if c.id != current.id and availability.get(c.id, (False,))[0]]
    _, ranked = recommend_mod.recommend(prompt, others, availability, limit=len(others),
                                        semantic=False)
    rank = {r.model: i for i, r in enumerate(ranked)}
    why = {r.model: r.reasons[0] for r in ranked}

    def order(card: ModelCard) -> tuple:
        return (DIRECTIONS.index(direction(current, card)), rank.get(card.id, len(rank)),
                -card.tier_rank, card.credits)

    choices = []
    for card in sorted(others, key=order):
        step = direction(current, card)
        reason = {"up": f"{card.tier.capitalize()} tier, {card.quality} quality",
                  "same": f"Same tier as {current.name}",
                  "down": f"Cheaper draft, {card.quality} quality"}[step]
        fit = why.get(card.id, "")
        if step == "up" and fit.startswith("Detected intent"):
            reason += f". {fit}"
        choices.append(Choice(card.id, card.name, card.tier, card.credits, step,
                              f"{reason} · {credits_text(card.credits)} per image"))
    default = next((c.model for c in choices if c.direction != "down"), None)
    return {"current": current.id, "default": default,
            "choices": [asdict(c) for c in choices]}
