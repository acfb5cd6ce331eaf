"""The closed vocabulary of the procedural world: objects, colours, words, relations.

Everything a caption can name lives here, plus the held-out compositions that the training
split never produces (they measure compositional generalisation). Changing any list changes
the world, so every trained checkpoint depends on it: treat these as frozen data.
"""

from __future__ import annotations

# name -> emoji character (Noto Color Emoji glyphs; faces for animals that only exist as faces)
EMOJI: dict[str, str] = {
    "dog": "\U0001f436",  # 🐶
    "cat": "\U0001f431",  # 🐱
    "rabbit": "\U0001f430",  # 🐰
    "fox": "\U0001f98a",  # 🦊
    "frog": "\U0001f438",  # 🐸
    "fish": "\U0001f41f",  # 🐟
    "bird": "\U0001f426",  # 🐦
    "turtle": "\U0001f422",  # 🐢
    "apple": "\U0001f34e",  # 🍎
    "banana": "\U0001f34c",  # 🍌
    "cherries": "\U0001f352",  # 🍒
    "pizza": "\U0001f355",  # 🍕
    "cake": "\U0001f370",  # 🍰
    "car": "\U0001f697",  # 🚗
    "bus": "\U0001f68c",  # 🚌
    "rocket": "\U0001f680",  # 🚀
    "airplane": "\u2708\ufe0f",  # ✈️
    "bicycle": "\U0001f6b2",  # 🚲
    "house": "\U0001f3e0",  # 🏠
    "tree": "\U0001f333",  # 🌳
    "flower": "\U0001f338",  # 🌸
    "sun": "\u2600\ufe0f",  # ☀️
    "moon": "\U0001f319",  # 🌙
    "umbrella": "\u2602\ufe0f",  # ☂️
}

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")

# class index = position in this tuple (the judge's object classes; 0 is reserved for "empty")
OBJECTS: tuple[str, ...] = tuple(EMOJI) + SHAPES

# Saturated, well-separated colours: the judge must tell orange from red and pink from purple
# after an autoencoder round trip, so no two are close in RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (255, 140, 0),
    "yellow": (250, 220, 20),
    "green": (30, 160, 60),
    "blue": (30, 80, 230),
    "purple": (130, 40, 190),
    "pink": (255, 120, 200),
    "white": (250, 250, 250),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
INVERSE_RELATION: dict[str, str] = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
}

# Common English words of 2-6 capital letters (120). Kept free of duplicates and of letters
# outside A-Z so the judge's character head has 26 classes plus blank.
WORDS: tuple[str, ...] = (
    "GO", "NO", "UP", "OK", "HI", "ON", "IN", "AT",
    "TO", "ME", "CAT", "DOG", "SUN", "YES", "BIG", "RED",
    "HOT", "NEW", "OLD", "FUN", "BOX", "CAR", "BUS", "MAP",
    "TOP", "ART", "EGG", "ICE", "KEY", "SKY", "OPEN", "STOP",
    "EXIT", "SALE", "LOVE", "HOME", "FOOD", "BOOK", "CAKE", "FISH",
    "BIRD", "TREE", "MOON", "STAR", "RAIN", "SNOW", "WIND", "FIRE",
    "GOLD", "BLUE", "PINK", "CAFE", "SHOP", "PARK", "TAXI", "HELP",
    "PLAY", "JAZZ", "SOUP", "DOOR", "BEST", "FAST", "SLOW", "EAST",
    "WEST", "COLD", "WARM", "HAPPY", "HELLO", "PIZZA", "APPLE", "HOUSE",
    "MUSIC", "PARTY", "DANCE", "LIGHT", "NIGHT", "SMILE", "PEACE", "DREAM",
    "OCEAN", "RIVER", "TIGER", "ROBOT", "CLOUD", "PLANT", "BREAD", "SUGAR",
    "LEMON", "QUIET", "SPACE", "WATER", "EARTH", "TRAIN", "CLOSED", "BAKERY",
    "GARDEN", "SUMMER", "WINTER", "SPRING", "AUTUMN", "ORANGE", "PURPLE", "YELLOW",
    "COFFEE", "CASTLE", "FOREST", "ROCKET", "PLANET", "BRIDGE", "SCHOOL", "DOCTOR",
    "TICKET", "PEPPER", "COOKIE", "BUTTER", "SILVER", "FRUITS", "FLOWER", "BANANA",
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_WORD_LEN = 6

# ---------------------------------------------------------------- held-out compositions
# Never produced by the "train" split (in either direction: "dog left of cat" also excludes
# "cat right of dog"); the "heldout" split produces only these. Documented in docs/world.md.
HELDOUT_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("dog", "left of", "cat"),
    ("rocket", "above", "house"),
    ("fish", "below", "bird"),
    ("car", "right of", "tree"),
    ("apple", "left of", "pizza"),
    ("sun", "above", "bus"),
    ("frog", "right of", "flower"),
    ("rabbit", "below", "moon"),
    ("turtle", "left of", "cake"),
    ("airplane", "above", "bicycle"),
    ("fox", "right of", "umbrella"),
    ("cherries", "below", "banana"),
)

# (colour, shape) never drawn in training: not alone, not counted, not in a pair or binding.
HELDOUT_SHAPES: tuple[tuple[str, str], ...] = (
    ("red", "star"),
    ("blue", "triangle"),
    ("green", "circle"),
    ("yellow", "square"),
    ("purple", "circle"),
    ("orange", "triangle"),
    ("pink", "star"),
    ("gray", "square"),
)

_HELDOUT_PAIR_SET = frozenset(HELDOUT_PAIRS) | frozenset(
    (b, INVERSE_RELATION[r], a) for a, r, b in HELDOUT_PAIRS
)
_HELDOUT_SHAPE_SET = frozenset(HELDOUT_SHAPES)


def is_heldout_pair(a: str, relation: str, b: str) -> bool:
    """True if "a <relation> b" (or its mirror "b <inverse> a") is a held-out composition."""
    return (a, relation, b) in _HELDOUT_PAIR_SET


def is_heldout_shape(colour: str | None, name: str) -> bool:
    return (colour, name) in _HELDOUT_SHAPE_SET


# ---------------------------------------------------------------- nouns for captions
_PLURAL_IRREGULAR = {"fish": "fish", "bus": "buses", "cherries": "cherries"}
_SINGULAR_IRREGULAR = {"cherries": "cherry"}


def singular(name: str) -> str:
    return _SINGULAR_IRREGULAR.get(name, name)


def plural(name: str) -> str:
    return _PLURAL_IRREGULAR.get(name, name + "s")


NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four")
