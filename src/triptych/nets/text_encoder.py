"""A word-level tokenizer and a tiny learned text encoder (trained jointly with the U-Net).

Tokenizer rules (chosen to match the world's template grammar and never crash on user text):

* Lowercase everything; strip punctuation; spell digits 0-10 as words ("2" -> "two").
* A word to be *rendered* is marked: a word inside double quotes ("CAT", “CAT”) or written in
  ALL CAPS (two letters or more) becomes the text token ``"cat"`` (quotes kept in the token),
  so the rendered word CAT and the emoji cat are different tokens.
* Lookup falls back gracefully: a text token missing from the vocabulary tries the plain word,
  and a plain word tries the text token; anything else is ``[UNK]``. Prompts longer than
  ``max_len`` tokens are truncated. The empty prompt is the ``[NULL]`` token, which is also the
  unconditional input used for classifier-free guidance.

The vocabulary is built from the world's captions and word lists and is stored inside each
checkpoint's metadata, so a checkpoint always carries the vocabulary it was trained with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

PAD, UNK, NULL = "[PAD]", "[UNK]", "[NULL]"
SPECIALS = (PAD, UNK, NULL)  # ids 0, 1, 2
_NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}
_QUOTED = re.compile(r"[\"“”„«»]([^\"“”„«»]*)[\"“”„«»]")
_WORD = re.compile(r"[A-Za-z0-9]+")


def split_words(prompt: str) -> list[str]:
    """Prompt -> surface tokens: plain words lowercased, rendered words as ``"word"``."""
    out: list[str] = []
    pos = 0
    for match in _QUOTED.finditer(prompt):
        out.extend(_plain(prompt[pos : match.start()]))
        out.extend(f'"{w.lower()}"' for w in _WORD.findall(match.group(1)))
        pos = match.end()
    out.extend(_plain(prompt[pos:]))
    return out


def _plain(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text):
        if len(word) >= 2 and word.isalpha() and word.isupper():
            words.append(f'"{word.lower()}"')  # ALL CAPS: a word to render
        else:
            words.append(_NUMBERS.get(word, word.lower()))
    return words


class Tokenizer:
    def __init__(self, vocab: list[str], max_len: int = 24) -> None:
        if list(vocab[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"vocab must start with {SPECIALS}")
        self.vocab = list(vocab)
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.max_len = max_len  # 24 covers the longest template caption with room to spare

    @classmethod
    def build(cls, texts: Iterable[str], max_len: int = 24) -> Tokenizer:
        """Vocabulary = every surface token seen in ``texts`` (captions and word lists)."""
        seen: set[str] = set()
        for text in texts:
            seen.update(split_words(text))
        return cls(list(SPECIALS) + sorted(seen), max_len)

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def null_id(self) -> int:
        return self.index[NULL]

    def _lookup(self, token: str) -> int:
        if token in self.index:
            return self.index[token]
        alt = token.strip('"') if token.startswith('"') else f'"{token}"'
        return self.index.get(alt, self.index[UNK])

    def encode(self, prompt: str) -> list[int]:
        ids = [self._lookup(t) for t in split_words(prompt)][: self.max_len]
        ids = ids or [self.null_id]
        return ids + [0] * (self.max_len - len(ids))

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> padded ids [B, max_len] (int64)."""
        return torch.tensor([self.encode(p) for p in prompts], dtype=torch.long)

    def null_ids(self, batch: int) -> torch.Tensor:
        """The unconditional input: [NULL] then padding, [B, max_len]."""
        return self([""] * batch)

    def unknown_words(self, prompt: str) -> list[str]:
        return [t for t in split_words(prompt) if self._lookup(t) == self.index[UNK]]


@dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 256
    max_len: int = 24
    dim: int = 96  # = U-Net context width; the grammar is tiny, so width matters more than depth
    layers: int = 2  # recipes: 2-layer transformer is enough for a template grammar
    heads: int = 4


class EncoderBlock(nn.Module):
    """Pre-LN transformer block with an optional key-padding mask (None: every key counts)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, L, dh]
        keys = None if mask is None else mask[:, None, None, :]
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=keys)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    """ids [B, L] -> (token states [B, L, dim], valid mask [B, L] bool)."""

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.pos = nn.Parameter(torch.zeros(1, cfg.max_len, cfg.dim))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(cfg.dim, cfg.heads) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.dim)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = ids != 0  # [B, L]; every prompt has >= 1 real token ([NULL] if empty)
        x = self.tok(ids) + self.pos[:, : ids.shape[1]]  # [B, L, dim]
        for block in self.blocks:
            x = block(x, mask)
        return self.ln(x), mask
