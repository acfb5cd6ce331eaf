"""Which words a model can read: the recommender's "free wording" signal.

A built-in model with its own word-level tokenizer reads only the words in the vocabulary
stored in its checkpoint; any other word becomes ``[UNK]`` and is ignored, so "a puppy beside
an automobile" reaches it as "a [UNK] [UNK] an [UNK]". A model conditioned on a pretrained
language model (pico-lm) or a hosted model reads ordinary English. This module says which is
which (from the checkpoint itself, not a hand-kept list) and which words of a prompt a closed
vocabulary misses.
"""

from __future__ import annotations

import json
import re
import struct
from functools import lru_cache
from pathlib import Path

from triptych.catalog.card import ModelCard

_QUOTED = re.compile(r"[\"“”„«»][^\"“”„«»]*[\"“”„«»]")  # words to render, not to read
_WORD = re.compile(r"[a-z]+")


def prompt_words(prompt: str) -> list[str]:
    """The words a tokenizer reads as scene description: lowercased, quoted text dropped,
    digits dropped (tokenizers spell them out)."""
    return _WORD.findall(_QUOTED.sub(" ", prompt).lower())


def unknown_words(prompt: str, vocabulary: frozenset[str]) -> list[str]:
    """The prompt's words missing from ``vocabulary``, once each, in prompt order."""
    missing: list[str] = []
    for word in prompt_words(prompt):
        if word not in vocabulary and word not in missing:
            missing.append(word)
    return missing


@lru_cache(maxsize=32)
def _checkpoint_vocabulary(path: str) -> frozenset[str] | None:
    """The plain words of the tokenizer vocabulary in a safetensors header (no tensors read);
    None when the checkpoint has no word vocabulary or cannot be read."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        vocab = json.loads(header.get("__metadata__", {})["vocab"])
    except (OSError, KeyError, ValueError, struct.error):
        return None
    return frozenset(tok for tok in vocab if isinstance(tok, str) and tok.isalpha())


def closed_vocabulary(card: ModelCard) -> frozenset[str] | None:
    """The words ``card``'s model can read, or None when it reads ordinary language."""
    if card.scheme != "builtin":
        return None
    from triptych.engines.builtin.engine import checkpoint_path

    path = Path(checkpoint_path(card.target))
    return _checkpoint_vocabulary(str(path)) if path.exists() else None
