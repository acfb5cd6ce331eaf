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

from triptych.catalog.card import TIER_ORDER, ModelCard, credits_text

log = logging.getLogger("triptych.recommend")

# The catalog capability that serves an intent, for models made for something else.
CAPABILITY_FOR = {"text": "text-rendering", "photo": "photorealism", "design": "design",
                  "creative": "creative"}
QUALITY_RANK = {"draft": 0, "good": 1, "high": 2, "highest": 3}
SPEEDS = {"instant": 0, "fast": 1, "medium": 2, "any": 3}
SEMANTIC_FLOOR = 0.30  # below this cosine similarity, an example says nothing
SEMANTIC_WEIGHT = 0.85  # meaning alone, at full confidence, scores just under a keyword
MARGIN_FULL = 0.25  # closer to an intent than to plain scenes by this much = full confidence
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
            r"\bthe (word|words|text|letters|phrase)\b",
            # "reading welcome", not "reading a book"
            r"\b(says|saying|reads|reading|spells|spelling|spelled|printed)\b(?!\s+(a|an|the|"
            r"book|books|newspaper|magazine|letter|letters|poem|story|novel)\b)",
            r"\b(lettering|typography|caption|headline|slogan|written|inscription|inscribed)\b"),
           ("a sign that says open", "a shop window with the words grand opening",
            "a birthday card reading happy birthday mom", "a t-shirt printed with a slogan",
            "a chalkboard menu listing today's specials", "neon lettering spelling late night",
            "a book cover with the title in large letters", "a street banner with a message on it",
            "a cake with a name piped on top in icing letters",
            "a billboard displaying a short phrase",
            "a mug with a quote printed on the side", "a road sign showing the town's name",
            "graffiti of a word on a brick wall", "a handwritten note saying thank you")),
    Intent("design", "logo, icon, banner, ad or social post",
           "is built for design and marketing: logos, icons, typography, vectors",
           (r"\b(logo|logos|logotype|icon|icons|banner|banners|ad|ads|advert\w*|social[- ]media|"
            r"social post|instagram|facebook|twitter|tiktok|linkedin|poster|flyer|brochure|"
            r"branding|brand identity|emblem|pictogram|mascot|sticker|thumbnail|infographic|"
            r"vector|svg|mockup|packaging|business card|marketing|campaign|promo\w*)\b",),
           ("a minimalist logo for a coffee shop", "an app icon of a paper plane",
            "a banner advertising a summer sale", "an instagram post announcing our launch",
            "a flat vector emblem for a tech startup", "a promotional poster for a concert",
            "brand mark for a bakery", "a symbol for the settings button of an app",
            "a graphic to advertise our new product online", "packaging design for a tea box",
            "a clean badge for a sports team", "a header image for our newsletter",
            "a simple monogram for a wedding invitation", "an ad creative for a shoe brand")),
    Intent("photo", "looks like a photo", "excels at photographic realism",
           (r"\b(photo|photos|photograph\w*|photoreal\w*|realistic|hyper-?realistic|lifelike|"
            r"true to life|dslr|camera|35 ?mm|50 ?mm|85 ?mm|bokeh|depth of field|f/\d|shot on|"
            r"canon|nikon|sony a7|portrait shot|headshot|candid|film grain|golden hour|"
            r"studio lighting|raw photo|snapshot)\b",),
           ("a photo of an old fisherman at dawn", "realistic portrait of a woman, 85mm lens",
            "a candid street shot in tokyo at night", "product photography of a watch",
            "a snapshot of my dog in the park", "a documentary picture of a busy market",
            "a picture indistinguishable from reality of a kitchen",
            "a lifelike image of a rainy city street", "a professional headshot of a doctor",
            "a wildlife shot of a deer in the forest, natural light",
            "a real-looking picture of a family at dinner",
            "an image that looks shot on a camera")),
    Intent("creative", "weird, surreal or creative", "is bold and inventive with strange ideas",
           (r"\b(weird|surreal\w*|bizarre|dreamlike|dreamy|psychedelic|trippy|absurd|whimsical|"
            r"uncanny|otherworldly|fantastical|impossible|melting|eldritch|strange|wild idea|"
            r"creative|imaginative|abstract|fever dream|unexpected|quirky|odd)\b",),
           ("a surreal landscape where clocks melt over trees",
            "a cat made of clouds riding a whale through space",
            "a dreamlike city upside down in the sky", "something weird and wonderful",
            "an impossible staircase in a candy world", "a fish wearing a suit giving a talk",
            "an octopus playing chess with a robot under the sea",
            "a teapot growing a forest out of its spout", "a giraffe made of noodles",
            "a snail racing a rocket across a desert of marbles",
            "a banana that is also a telephone booth", "a whale floating over a wheat field",
            "an elephant knitting on a cloud", "a piano made of waterfalls")),
    Intent("final", "hero image or final render", "gives the highest quality for finals",
           (r"\b(hero (image|shot|banner)|final (render|version|image|art|cut)|masterpiece|"
            r"highest quality|best quality|top quality|maximum detail|ultra detailed|cover art|"
            r"key art|print[- ]ready|high[- ]end|showcase|flagship|award[- ]winning|polished|"
            r"definitive|8k|4k)\b",),
           ("the hero image for our landing page", "final render of the character for the cover",
            "a highly detailed masterpiece for print", "key art for the game launch",
            "the definitive high quality version of this scene",
            "the finished artwork for the album release",
            "the polished final image for the magazine cover",
            "the best possible version for a large print",
            "a flagship visual for our website homepage",
            "the finished illustration with every detail perfect")),
    Intent("instant", "need it now", "answers in about a second for quick drafts",
           (r"\b(quick|quickly|fast|speedy|asap|right now|immediately|instant\w*|draft|rough|"
            r"preview|sketch idea|just need|in a hurry|hurry|cheap|cheapest|iterate|"
            r"thumbnail sketch|first pass|no time)\b",),
           ("quick draft of a mountain lake", "just need a rough preview fast",
            "a cheap instant sketch of the idea", "give me something right now",
            "fast test image to check the composition", "a throwaway image to test the idea",
            "I need it immediately, don't care about quality",
            "a rough first try before the real one", "a speedy low effort version",
            "let me see a preview in a second")),
)
# Ordinary scenes with no special need: the recommender compares a prompt against these, so
# an intent is only detected when the prompt is closer to it than to plain picture requests.
GENERAL_EXAMPLES = (
    "a cozy cabin in the woods", "a bowl of fruit on a table", "a castle on a hill",
    "a dog playing in the snow", "a city skyline at night", "a sailboat on a calm lake",
    "a bedroom with a large window", "two friends walking on a beach",
    "a red car parked on a street", "a mountain landscape in spring",
    "a cat sleeping on a sofa", "an old library full of books", "a garden with roses",
    "a bridge over a river", "a kitchen with wooden cabinets", "a horse in a field",
    "children playing in a park", "a lighthouse by the sea", "a plate of pasta",
    "a grandmother baking cookies", "a man reading a book by the fire",
    "a forest path in autumn", "a street market in the morning", "a robot in a workshop",
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
def _example_matrix() -> tuple[list[str], list[str], np.ndarray]:
    from triptych.embeddings import embed

    owners, sentences = [], []
    for intent in INTENTS:
        for sentence in intent.examples:
            owners.append(intent.id)
            sentences.append(sentence)
    for sentence in GENERAL_EXAMPLES:
        owners.append("general")
        sentences.append(sentence)
    return owners, sentences, embed(sentences)


def _semantic_scores(prompt: str) -> dict[str, tuple[float, str]]:
    """Per intent: (confidence in [0, 1], the closest example), judged against plain scenes."""
    try:
        from triptych.embeddings import embed

        owners, sentences, matrix = _example_matrix()
        vector = embed([prompt])[0]
    except Exception:  # the recommender still works on keywords alone
        log.warning("sentence model unavailable; keyword intents only", exc_info=True)
        return {}
    sims = matrix @ vector
    by_owner: dict[str, list[tuple[float, str]]] = {}
    for owner, sim, sentence in zip(owners, sims, sentences, strict=True):
        by_owner.setdefault(owner, []).append((float(sim), sentence))

    def strength(owner: str) -> float:  # mean of the two nearest examples: robust to one fluke
        top = sorted(by_owner[owner], reverse=True)[:2]
        return sum(sim for sim, _ in top) / len(top)

    general = strength("general")
    out = {}
    for intent in INTENTS:
        score = strength(intent.id)
        best = max(by_owner[intent.id])
        # Confidence grows with the margin over ordinary scenes; weak absolute matches count
        # for nothing whatever the margin.
        margin = score - general
        confidence = 0.0 if score < SEMANTIC_FLOOR else max(0.0, min(1.0, margin / MARGIN_FULL))
        out[intent.id] = (confidence, best[1], best[0])
    return out


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
        confidence, example, sim = sem.get(intent.id, (0.0, "", 0.0))
        if confidence > 0.2:
            evidence.append(f"reads like “{example}” (similarity {sim:.2f})")
        # An explicit keyword outranks meaning alone; the two together are strongest.
        score = score + 0.1 * confidence if score else SEMANTIC_WEIGHT * confidence
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
        # The card's best-matching intent decides; summing would let a model that fits two
        # weak readings beat the model made for the strongest one.
        fit = max((w for intent_id, w in weights.items() if intent_id in card.best_for),
                  default=0.0)
        # A model that also covers the other needs it shows (a logo *with text*) edges ahead.
        fit += 0.1 * sum(w for intent_id, w in weights.items()
                         if intent_id not in card.best_for
                         and CAPABILITY_FOR.get(intent_id) in card.capabilities)
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
        reasons.append(f"Trade-off: {credits_text(card.credits)} "
                       f"per image, {card.tier} tier, {card.quality} quality.")
        if not ok:
            reasons.append(f"Unavailable here: {why_not}.")
        key = (-round(fit, 3), -QUALITY_RANK.get(card.quality, 0), card.credits, order)
        ranked.append((key, Recommendation(card.id, card.name, round(fit, 3), card.tier,
                                           card.credits, ok, reasons, "" if ok else why_not)))
    ranked.sort(key=lambda item: item[0])
    return intents, [rec for _, rec in ranked[:limit]]
