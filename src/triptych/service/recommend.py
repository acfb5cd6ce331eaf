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
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from triptych.catalog.card import TIER_ORDER, ModelCard
from triptych.service import recommend_reasons as reasons_mod
from triptych.service.model_vocabulary import prompt_words, unknown_words

log = logging.getLogger("triptych.recommend")

# The catalog capability that serves an intent, for models made for something else.
QUALITY_RANK = reasons_mod.QUALITY_RANK
CAPABILITY_FOR = {"text": "text-rendering", "photo": "photorealism", "design": "design",
                  "creative": "creative"}
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
    keyword: str = ""  # the words of the prompt that matched a rule
    example: str = ""  # the example prompt it reads like


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


# Set while a process's warm-up runs: /readyz answers "not ready" meanwhile, so a balancer
# neither sends the first prompt to a cold recommender nor measures a process still loading.
WARMING = threading.Event()
WARMED = threading.Event()


def warm_up_in_background() -> None:
    """``warm_up`` on a thread; not ready from this call on until it has finished."""
    if WARMED.is_set():  # another app in this process loaded it (or tried) already
        return
    WARMING.set()
    threading.Thread(target=warm_up, daemon=True, name="triptych-warm-recommender").start()


def warm_up() -> None:
    """Load the sentence model and embed the intent examples now (seconds, once per process),
    so the first recommendation a person sees as they type is as quick as the next."""
    try:
        _example_matrix()
    except Exception:
        log.warning("sentence model unavailable; keyword intents only", exc_info=True)
    finally:
        WARMED.set()
        WARMING.clear()


def _embed(texts: list[str]) -> np.ndarray | None:
    """Unit vectors of ``texts``, or None where the sentence model cannot load (the
    recommender then works on keywords and catalog data alone)."""
    try:
        from triptych.embeddings import embed

        return embed(texts)
    except Exception:
        log.warning("sentence model unavailable; keyword intents only", exc_info=True)
        return None


def _semantic_scores(vector: np.ndarray | None) -> dict[str, tuple[float, str, float]]:
    """Per intent: (confidence in [0, 1], the closest example, its similarity), judged
    against plain scenes."""
    if vector is None:
        return {}
    try:
        owners, sentences, matrix = _example_matrix()
    except Exception:
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


def detect_intents(prompt: str, *, semantic: bool = True,
                   vector: np.ndarray | None = None) -> list[DetectedIntent]:
    """Score every intent in [0, 1]; sorted, strongest first. Always ends with 'general'.
    ``vector``: the prompt's embedding when the caller already has it."""
    if semantic and vector is None:
        vectors = _embed([prompt])
        vector = None if vectors is None else vectors[0]
    sem = _semantic_scores(vector) if semantic else {}
    found = []
    for intent in INTENTS:
        evidence = []
        score = 0.0
        keyword = example_used = ""
        for pattern in intent.patterns:
            match = re.search(pattern, prompt, re.IGNORECASE)
            if match:
                keyword = match.group(0).strip()
                evidence.append(f"keyword '{keyword}'")
                score = 0.9
                break
        confidence, example, sim = sem.get(intent.id, (0.0, "", 0.0))
        if confidence > 0.2:
            example_used = example
            evidence.append(f"reads like “{example}” (similarity {sim:.2f})")
        # An explicit keyword outranks meaning alone; the two together are strongest.
        score = score + 0.1 * confidence if score else SEMANTIC_WEIGHT * confidence
        found.append(DetectedIntent(intent.id, intent.label, round(min(score, 1.0), 3), evidence,
                                    keyword, example_used))
    found.sort(key=lambda d: d.score, reverse=True)
    general_score = max(0.0, DETECT_THRESHOLD - (found[0].score if found else 0)) + 0.3
    found.append(DetectedIntent("general", GENERAL.label, round(general_score, 3),
                                ["no specialised need dominates"]))
    return found




def prompt_kind(prompt: str, *, semantic: bool = True) -> str:
    """The kind of prompt, for picks and win rates: the strongest detected intent, else
    'general'."""
    top = detect_intents(prompt, semantic=semantic)[0]
    return top.id if top.score >= DETECT_THRESHOLD else "general"


def kind_label(kind: str) -> str:
    intent = _BY_ID.get(kind)
    return intent.label if intent else kind


# kind of prompt -> model id -> (wins, times shown): the user's picks (service/picks.py)
PicksTable = dict[str, dict[str, tuple[int, int]]]
# With enough picks of a kind, a model's fit is blended with its win rate at this weight:
# what you choose, blind, outweighs the rules by half (never more: a few picks are noisy).
PICKS_WEIGHT = 0.5
PICKS_FULL = 3  # times shown in picks of a kind before that signal counts in full
WORDING_PENALTY = 0.6  # share of its fit a model loses when it cannot read the whole prompt
WORDING_BONUS = 0.15  # what a model that reads any words gains when some cannot
# A card strength this close to the prompt is worth naming, and it decides between models
# that fit equally well and are of the same quality.
STRENGTH_FLOOR = 0.25


@lru_cache(maxsize=8)
def _strength_vectors(texts: tuple[str, ...]) -> np.ndarray | None:
    return _embed(list(texts))


def _strength_matches(vector: np.ndarray | None, cards: list[ModelCard],
                      prompt: str) -> dict[str, tuple[float, str]]:
    """Per card, (closeness, strength) of the strength that best matches the prompt: by
    meaning, or by shared words when the sentence model is unavailable. Only matches above
    STRENGTH_FLOOR are kept."""
    texts = tuple(sorted({s for card in cards for s in card.strengths}))
    if not texts:
        return {}
    vectors = _strength_vectors(texts) if vector is not None else None
    if vectors is not None:
        sims = dict(zip(texts, (vectors @ vector).tolist(), strict=True))
    else:
        words = set(prompt_words(prompt))
        sims = {t: 0.3 * len(words & set(prompt_words(t))) for t in texts}
    out = {}
    for card in cards:
        scored = [(sims[s], s) for s in card.strengths]
        if scored and max(scored)[0] >= STRENGTH_FLOOR:
            out[card.id] = max(scored)
    return out


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
    vocabularies: dict[str, frozenset[str] | None] | None = None,
    picks: PicksTable | None = None,
) -> tuple[list[DetectedIntent], list[Recommendation]]:
    """Rank the models for ``prompt``. ``vocabularies``: per model, the words it can read
    (None or absent: any words); ``picks``: the user's win records by kind of prompt."""
    if speed not in SPEEDS:
        raise ValueError(f"speed must be one of {', '.join(SPEEDS)}")
    vectors = _embed([prompt]) if semantic else None
    vector = None if vectors is None else vectors[0]
    intents = detect_intents(prompt, semantic=semantic and vector is not None, vector=vector)
    detected = [d for d in intents if d.score >= DETECT_THRESHOLD and d.id != "general"]
    if not detected:
        detected = [next(d for d in intents if d.id == "general")]
    weights = {d.id: d.score for d in detected}
    primary = detected[0]
    kind_record = (picks or {}).get(primary.id, {})

    # Free wording: the words some model's own word list lacks. The words that asked for a
    # need ("quick", "photo of") say how to render, not what to draw: they do not count.
    asked = {w for d in detected for w in prompt_words(d.keyword)}
    words = set(prompt_words(prompt)) - asked
    missing = {card.id: [w for w in unknown_words(prompt, vocab) if w not in asked]
               for card in cards if (vocab := (vocabularies or {}).get(card.id)) is not None}
    hard = [w for w in prompt_words(prompt) if any(w in m for m in missing.values())]
    hard = list(dict.fromkeys(hard))
    hard_share = len(hard) / max(1, len(words))
    strengths = _strength_matches(vector, cards, prompt)

    ranked: list[tuple[tuple, ModelCard, float, bool, str]] = []
    picks_moved: dict[str, float] = {}  # how much the user's picks changed each fit
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
        if card.id in missing:  # it will drop the words it cannot read
            fit *= 1 - WORDING_PENALTY * len(missing[card.id]) / max(1, len(words))
        elif hard:
            fit += WORDING_BONUS * hard_share
        wins, shown = kind_record.get(card.id, (0, 0))
        if shown:
            weight = PICKS_WEIGHT * min(1.0, shown / PICKS_FULL)
            blended = (1 - weight) * fit + weight * wins / shown
            picks_moved[card.id] = blended - fit
            fit = blended
        closeness = round(strengths.get(card.id, (0.0, ""))[0], 2)
        key = (-round(fit, 3), -QUALITY_RANK.get(card.quality, 0), -closeness, card.credits,
               order)
        ranked.append((key, card, fit, ok, why_not))
    ranked.sort(key=lambda item: item[0])
    ranked = ranked[:limit]

    chosen = [card for _, card, *_ in ranked]
    closed_names = [c.name for c in cards if c.id in missing and missing[c.id]]
    recs = []
    for _, card, fit, ok, why_not in ranked:
        matched = next((d for d in detected if d.id in card.best_for), None)
        covered = [(d, CAPABILITY_FOR[d.id]) for d in detected
                   if d.id not in card.best_for and CAPABILITY_FOR.get(d.id) in card.capabilities]
        reasons = [reasons_mod.fit_reason(card, matched, _BY_ID.get(matched.id) if matched
                                          else None, primary, covered)]
        optional = [
            reasons_mod.strength_reason(strengths.get(card.id, (0.0, ""))[1]),
            reasons_mod.wording_reason(card, missing.get(card.id), hard, closed_names),
            reasons_mod.picks_reason(card, kind_record.get(card.id), primary.label,
                                     picks_moved.get(card.id, 0.0)),
        ]
        reasons += [r for r in optional if r]
        reasons.append(reasons_mod.trade_off(card, chosen))
        if not ok:
            reasons.append(f"Unavailable here: {why_not}.")
        recs.append(Recommendation(card.id, card.name, round(fit, 3), card.tier, card.credits,
                                   ok, reasons, "" if ok else why_not))
    return intents, recs


def kind_labels() -> dict[str, str]:
    """Every kind of prompt a pick can be filed under, with its label."""
    return {i.id: i.label for i in (*INTENTS, GENERAL)}
