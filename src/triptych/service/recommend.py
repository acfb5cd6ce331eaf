"""The model recommender: detect what a prompt is for, then rank the models that fit.

Guidance (the platform's own): need it now → the instant model; looks like a photo →
BitDance; general → Flux Pro; text inside the image → Nano Banana 2; logo, icon, banner, ad,
social post → Recraft V4 Pro; weird, surreal, creative → Grok Imagine; hero image, final
render → Nano Banana Pro. Which models serve an intent is catalog data (``best_for``).

Intent detection combines keyword rules (precise, explainable: quoted words, "sign that
says") with semantic similarity to example prompts under a sentence-embedding model, so
paraphrases ("a storefront board reading welcome", "brand mark for a bakery") are caught too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from triptych.catalog.card import TIER_ORDER, ModelCard

log = logging.getLogger("triptych.recommend")

QUALITY_RANK = {"draft": 0, "good": 1, "high": 2, "highest": 3}
SPEEDS = {"instant": 0, "fast": 1, "medium": 2, "any": 3}
SEMANTIC_FLOOR = 0.30  # below this cosine similarity, an example says nothing
DETECT_THRESHOLD = 0.45  # an intent counts as detected at this combined score


@dataclass(frozen=True)
class Intent:
    id: str
    label: str
    why: str  # what the matching models do well, for the reason text
    patterns: tuple[str, ...]
    examples: tuple[str, ...]


INTENTS: tuple[Intent, ...] = (
    Intent("text", "text inside the image", "renders legible words inside images",
           (r"[\"“”'‘’][^\"“”'‘’]{1,40}[\"“”'‘’]", r"\bsigns? (that )?(says|reads|reading)\b",
            r"\bthe (word|words|text|letters|phrase)\b", r"\b(lettering|typography|caption|"
            r"headline|slogan|label (that )?(says|reads)|written|spelled|spelling)\b"),
           ("a sign that says open", "a shop window with the words grand opening",
            "a birthday card reading happy birthday mom", "a t-shirt printed with a slogan",
            "a chalkboard menu listing today's specials", "neon lettering spelling late night",
            "a book cover with the title in large letters")),
    Intent("design", "logo, icon, banner, ad or social post",
           "is built for design and marketing: logos, icons, typography, vectors",
           (r"\b(logo|logos|logotype|icon|icons|banner|banners|ad|ads|advert\w*|social[- ]media|"
            r"social post|instagram|facebook post|linkedin|poster|flyer|brochure|branding|brand "
            r"identity|mascot|sticker|thumbnail|infographic|vector|svg|mockup|packaging|"
            r"business card|marketing|campaign)\b",),
           ("a minimalist logo for a coffee shop", "an app icon of a paper plane",
            "a banner advertising a summer sale", "an instagram post announcing our launch",
            "a flat vector emblem for a tech startup", "a promotional poster for a concert",
            "brand mark for a bakery")),
    Intent("photo", "looks like a photo", "excels at photographic realism",
           (r"\b(photo|photos|photograph\w*|photoreal\w*|realistic|hyper-?realistic|dslr|35 ?mm|"
            r"50 ?mm|85 ?mm|bokeh|depth of field|f/\d|shot on|canon|nikon|sony a7|portrait shot|"
            r"headshot|candid|film grain|golden hour|studio lighting|raw photo)\b",),
           ("a photo of an old fisherman at dawn", "realistic portrait of a woman, 85mm lens",
            "a candid street shot in tokyo at night", "product photography of a watch",
            "a snapshot of my dog in the park", "a documentary picture of a busy market")),
    Intent("creative", "weird, surreal or creative", "is bold and inventive with strange ideas",
           (r"\b(weird|surreal\w*|bizarre|dreamlike|dreamy|psychedelic|trippy|absurd|whimsical|"
            r"uncanny|otherworldly|fantastical|impossible|melting|eldritch|strange|wild idea|"
            r"creative|imaginative|abstract)\b",),
           ("a surreal landscape where clocks melt over trees", "a cat made of clouds riding a "
            "whale through space", "a dreamlike city upside down in the sky", "something "
            "weird and wonderful", "an impossible staircase in a candy world",
            "a fish wearing a suit giving a TED talk")),
    Intent("final", "hero image or final render", "gives the highest quality for finals",
           (r"\b(hero (image|shot|banner)|final (render|version|image|art)|masterpiece|"
            r"highest quality|best quality|ultra detailed|cover art|key art|print[- ]ready|"
            r"high[- ]end|showcase|flagship|award[- ]winning|8k|4k)\b",),
           ("the hero image for our landing page", "final render of the character for the cover",
            "a highly detailed masterpiece for print", "key art for the game launch",
            "the definitive high quality version of this scene")),
    Intent("instant", "need it now", "answers in about a second for quick drafts",
           (r"\b(quick|quickly|fast|asap|right now|instant\w*|draft|rough|preview|sketch idea|"
            r"just need|in a hurry|hurry|cheap|cheapest|iterate|thumbnail sketch)\b",),
           ("quick draft of a mountain lake", "just need a rough preview fast",
            "a cheap instant sketch of the idea", "give me something right now",
            "fast test image to check the composition")),
)
GENERAL = Intent("general", "general picture", "is a strong general-purpose choice", (), ())
_BY_ID = {i.id: i for i in (*INTENTS, GENERAL)}


@dataclass
class DetectedIntent:
    id: str
    label: str
    score: float
    evidence: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    model: str
    name: str
    score: float
    tier: str
    credits: int
    available: bool
    reasons: list[str]
    unavailable_reason: str = ""


@lru_cache(maxsize=1)
def _example_matrix() -> tuple[list[str], np.ndarray]:
    from triptych.embeddings import embed

    owners, sentences = [], []
    for intent in INTENTS:
        for sentence in intent.examples:
            owners.append(intent.id)
            sentences.append(sentence)
    return owners, embed(sentences)


def _semantic_scores(prompt: str) -> dict[str, tuple[float, str]]:
    try:
        from triptych.embeddings import embed

        owners, matrix = _example_matrix()
        vector = embed([prompt])[0]
    except Exception:  # the recommender still works on keywords alone
        log.warning("sentence model unavailable; keyword intents only", exc_info=True)
        return {}
    sims = matrix @ vector
    best: dict[str, tuple[float, str]] = {}
    examples = [s for i in INTENTS for s in i.examples]
    for owner, sim, sentence in zip(owners, sims, examples, strict=True):
        if sim > best.get(owner, (-1.0, ""))[0]:
            best[owner] = (float(sim), sentence)
    return best


def detect_intents(prompt: str, *, semantic: bool = True) -> list[DetectedIntent]:
    """Score every intent in [0, 1]; sorted, strongest first. Always ends with 'general'."""
    sem = _semantic_scores(prompt) if semantic else {}
    found = []
    for intent in INTENTS:
        evidence = []
        score = 0.0
        for pattern in intent.patterns:
            match = re.search(pattern, prompt, re.IGNORECASE)
            if match:
                evidence.append(f"keyword '{match.group(0).strip()}'")
                score = 0.9
                break
        sim, example = sem.get(intent.id, (0.0, ""))
        if sim > SEMANTIC_FLOOR:
            # Map cosine [floor, 0.8] onto [0, 1]; keywords and meaning reinforce each other.
            semantic_score = min(1.0, (sim - SEMANTIC_FLOOR) / (0.8 - SEMANTIC_FLOOR))
            if semantic_score > 0.25:
                evidence.append(f"reads like “{example}” (similarity {sim:.2f})")
            score = max(score, semantic_score) + (0.1 * semantic_score if score else 0.0)
        found.append(DetectedIntent(intent.id, intent.label, round(min(score, 1.0), 3), evidence))
    found.sort(key=lambda d: d.score, reverse=True)
    general_score = max(0.0, DETECT_THRESHOLD - (found[0].score if found else 0)) + 0.3
    found.append(DetectedIntent("general", GENERAL.label, round(general_score, 3),
                                ["no specialised need dominates"]))
    return found


def recommend(
    prompt: str,
    cards: list[ModelCard],
    availability: dict[str, tuple[bool, str]],
    *,
    budget: int | None = None,
    speed: str = "any",
    include_unavailable: bool = False,
    limit: int = 5,
    semantic: bool = True,
) -> tuple[list[DetectedIntent], list[Recommendation]]:
    if speed not in SPEEDS:
        raise ValueError(f"speed must be one of {', '.join(SPEEDS)}")
    intents = detect_intents(prompt, semantic=semantic)
    detected = [d for d in intents if d.score >= DETECT_THRESHOLD and d.id != "general"]
    if not detected:
        detected = [next(d for d in intents if d.id == "general")]
    weights = {d.id: d.score for d in detected}
    primary = detected[0]

    ranked: list[tuple[tuple, Recommendation]] = []
    for order, card in enumerate(cards):
        ok, why_not = availability.get(card.id, (False, "unknown"))
        if not ok and not include_unavailable:
            continue
        if budget is not None and card.credits > budget:
            continue
        if TIER_ORDER[card.tier] > SPEEDS[speed]:
            continue
        fit = sum(w for intent_id, w in weights.items() if intent_id in card.best_for)
        if not fit and "general" in card.best_for:
            fit = 0.2  # a general model is a fair second choice for anything
        reasons = []
        for intent_id in card.best_for:
            if intent_id in weights:
                intent = _BY_ID[intent_id]
                evidence = next((d.evidence for d in detected if d.id == intent_id), [])
                seen = f" ({'; '.join(evidence[:2])})" if evidence else ""
                reasons.append(f"Detected intent: {intent.label}{seen} — {card.name} "
                               f"{intent.why}.")
        if not reasons:
            reasons.append(f"Not specialised for {primary.label}; listed as an alternative.")
        reasons.append(f"Trade-off: {card.credits} credit{'s' if card.credits != 1 else ''} "
                       f"per image, {card.tier} tier, {card.quality} quality.")
        if not ok:
            reasons.append(f"Unavailable here: {why_not}.")
        key = (-round(fit, 3), -QUALITY_RANK.get(card.quality, 0), card.credits, order)
        ranked.append((key, Recommendation(card.id, card.name, round(fit, 3), card.tier,
                                           card.credits, ok, reasons, "" if ok else why_not)))
    ranked.sort(key=lambda item: item[0])
    return intents, [rec for _, rec in ranked[:limit]]
