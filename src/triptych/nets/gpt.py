"""BitsGPT: a decoder-only transformer over binary image tokens, text as a prefix, a KV cache.

Sequence (nanoGPT / LlamaGen-style prefix LM)::

    [text prefix: L states] [BOS] [tok 0] [tok 1] ... [tok 62]   -> L + 64 positions
                              |      |                  |
                           tok 0  tok 1      ...     tok 63       (head 0 targets)

* Text prefix: the project's word tokenizer + learned 2-layer text encoder
  (``nets.text_encoder.TextEncoder``), projected to the model width. The encoder is
  *bidirectional* over the prompt, so every prefix state already knows the whole sentence
  ("a red circle and a blue square": "circle" sees "blue" comes later), which a causal prefix
  of raw word embeddings would not give the early words; it costs one 24-token pass per image.
  Padding positions are masked out as keys everywhere (training, prefill, decode).
* CFG: the unconditional prompt is the tokenizer's ``[NULL]`` prompt, whose embedding is
  learned (prompts are replaced by it with p = 0.1 in training), i.e. a learned null text.
* Image tokens come in as their K bits (+-1) through one linear map, and go out as one softmax
  over the 2^K ids (see ``nets.lfq`` for why).
* Multi-token head (``n_predict > 1``): extra heads in the DeepSeek-V3 "MTP" style. Head j
  takes head j-1's hidden state and the embedding of the token head j-1 predicted, and
  predicts one token further. Sampling k tokens per step therefore still conditions each
  token on the previous one (unlike independent parallel heads), and the trunk then ingests
  the k tokens in one cached pass: 64 / k trunk passes per image.
* KV cache: per layer, preallocated [B, H, L + 64, dh] keys/values; ``prefill`` runs the prefix
  + BOS, ``decode`` appends k tokens and returns the last hidden state. The uncached path
  (``forward`` / ``hidden``) is the reference that the cache must reproduce exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from triptych.nets.lfq import codes_from_ids
from triptych.nets.text_encoder import TextConfig, TextEncoder


@dataclass(frozen=True)
class GPTConfig:
    bits: int = 12  # K: must match the tokenizer; vocab = 2^K ids
    n_tokens: int = 64  # 8x8 raster
    d: int = 256  # recipes: d <= 256 keeps 64 cached tokens under ~0.35 s on 2 cores
    layers: int = 6
    heads: int = 4
    mlp_ratio: int = 4
    n_predict: int = 2  # heads ahead: 1 = plain next-token; 2 lets sampling take 2 tokens/step
    dropout: float = 0.0  # recipes: dropout 0 for these short runs
    # text encoder: narrower than the GPT (its grammar is tiny), projected up to d
    text: TextConfig = field(default_factory=lambda: TextConfig(dim=128, layers=2, heads=4))

    @property
    def vocab(self) -> int:
        return 2**self.bits

    @property
    def prefix_len(self) -> int:
        return self.text.max_len

    @property
    def seq_len(self) -> int:
        return self.prefix_len + self.n_tokens  # prefix + BOS + 63 fed-back tokens


GPT_CONFIGS: dict[str, GPTConfig] = {
    # CI smoke tests only
    "tiny": GPTConfig(bits=6, d=32, layers=2, heads=2, n_predict=2,
                      text=TextConfig(dim=16, layers=1, heads=2)),
    "small": GPTConfig(),  # d256 L6 h4: the recipes' (b) size
}


@dataclass
class KVCache:
    """Per-layer keys/values [B, H, T_max, dh] plus which key positions are real (not pad)."""

    k: list[torch.Tensor]
    v: list[torch.Tensor]
    valid: torch.Tensor  # [B, T_max] bool
    length: int = 0  # positions filled so far

    @classmethod
    def empty(cls, cfg: GPTConfig, batch: int, device: torch.device,
              dtype: torch.dtype) -> KVCache:
        shape = (batch, cfg.heads, cfg.seq_len, cfg.d // cfg.heads)
        return cls(k=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.layers)],
                   v=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.layers)],
                   valid=torch.ones(batch, cfg.seq_len, dtype=torch.bool, device=device))


def attention_mask(valid: torch.Tensor, start: int, n_new: int) -> torch.Tensor:
    """Bool mask [B, 1, n_new, start + n_new]: query i (at position start + i) sees key j iff
    j <= start + i and key j is not padding."""
    total = start + n_new
    q_pos = torch.arange(start, total, device=valid.device)[:, None]  # [n_new, 1]
    k_pos = torch.arange(total, device=valid.device)[None, :]  # [1, total]
    causal = k_pos <= q_pos  # [n_new, total]
    return causal[None, None] & valid[:, None, None, :total]  # [B,1,n_new,total]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.d, 3 * cfg.d)
        self.proj = nn.Linear(cfg.d, cfg.d)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0, start: int = 0) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # [B,H,T,dh]
        if cache is not None:  # write the new keys/values, attend over everything so far
            cache.k[layer][:, :, start : start + t] = k
            cache.v[layer][:, :, start : start + t] = v
            k = cache.k[layer][:, :, : start + t]  # [B,H,start+T,dh]
            v = cache.v[layer][:, :, : start + t]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))  # [B,T,d]


class MLP(nn.Module):
    def __init__(self, d: int, ratio: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d, ratio * d)
        self.proj = nn.Linear(ratio * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-LN transformer block."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d)
        self.mlp = MLP(cfg.d, cfg.mlp_ratio)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0, start: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask, cache, layer, start)
        return x + self.mlp(self.ln2(x))


class MTPHead(nn.Module):
    """(hidden that predicted token p, embedding of token p) -> hidden that predicts p + 1."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_h = nn.LayerNorm(cfg.d)
        self.ln_e = nn.LayerNorm(cfg.d)
        self.mix = nn.Linear(2 * cfg.d, cfg.d)
        self.ln = nn.LayerNorm(cfg.d)
        self.mlp = MLP(cfg.d, cfg.mlp_ratio)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        x = h + self.mix(torch.cat([self.ln_h(h), self.ln_e(e)], -1))  # [...,d]
        return x + self.mlp(self.ln(x))


class BitsGPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = TextEncoder(cfg.text)
        self.text_proj = nn.Linear(cfg.text.dim, cfg.d)
        self.tok_in = nn.Linear(cfg.bits, cfg.d)  # +-1 bits -> embedding
        self.bos = nn.Parameter(torch.zeros(1, 1, cfg.d))
        self.pos = nn.Parameter(torch.zeros(1, cfg.seq_len, cfg.d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.d)
        self.mtp = nn.ModuleList(MTPHead(cfg) for _ in range(cfg.n_predict - 1))
        self.head = nn.Linear(cfg.d, cfg.vocab, bias=False)  # shared by every MTP depth
        self._init_weights()

    def _init_weights(self) -> None:
        """nanoGPT init (N(0, 0.02), residual projections scaled by 1/sqrt(2 L)); the text
        encoder keeps its own init."""
        for name, module in self.named_modules():
            if name.startswith("text.") or name == "text":
                continue
            if isinstance(module, nn.Linear):
                residual = name.endswith((".attn.proj", ".mlp.proj"))
                std = 0.02 / math.sqrt(2 * self.cfg.layers) if residual else 0.02
                nn.init.normal_(module.weight, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.bos, std=0.02)

    # ------------------------------------------------------------------ embeddings
    def embed_prefix(self, text_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """text ids [B,L] -> (prefix + BOS [B,L+1,d], valid mask [B,L+1])."""
        states, valid = self.text(text_ids)  # [B,L,dt], [B,L]
        b, n = text_ids.shape
        x = torch.cat([self.text_proj(states), self.bos.expand(b, 1, -1)], 1)  # [B,L+1,d]
        valid = torch.cat([valid, valid.new_ones(b, 1)], 1)  # [B,L+1]
        return x + self.pos[:, : n + 1], valid

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B,T] -> [B,T,d] (no position)."""
        return self.tok_in(codes_from_ids(ids, self.cfg.bits).to(self.tok_in.weight.dtype))

    def embed_tokens(self, ids: torch.Tensor, start: int) -> torch.Tensor:
        """Image-token ids [B,T] fed at sequence positions start.. -> [B,T,d]."""
        return self.token_embedding(ids) + self.pos[:, start : start + ids.shape[1]]

    # ------------------------------------------------------------------ trunk
    def _trunk(self, x: torch.Tensor, valid: torch.Tensor, cache: KVCache | None = None,
               start: int = 0) -> torch.Tensor:
        mask = attention_mask(valid, start, x.shape[1])  # [B,1,T,start+T]
        for i, block in enumerate(self.blocks):
            x = block(x, mask, cache, i, start)
        return x  # [B,T,d], before ln_f

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_f(h))  # [...,V]

    def hidden(self, text_ids: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Uncached: hidden states [B,T+1,d] for predicting image tokens 0..T from the prompt
        and the first T tokens ([B,T], T may be 0)."""
        prefix, valid = self.embed_prefix(text_ids)  # [B,L+1,d]
        x = torch.cat([prefix, self.embed_tokens(tokens, prefix.shape[1])], 1)
        valid = torch.cat([valid, valid.new_ones(tokens.shape)], 1)
        return self._trunk(x, valid)[:, prefix.shape[1] - 1 :]  # [B,T+1,d]

    def forward(self, text_ids: torch.Tensor, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Teacher forcing. text ids [B,L], image ids [B,64] -> per head j, logits
        [B, 64 - j, V] predicting tokens[:, j:]."""
        h = self.hidden(text_ids, tokens[:, :-1])  # [B,64,d]
        out = [self.logits(h)]
        for j, mtp in enumerate(self.mtp, start=1):
            # head j at p: head j-1's hidden at p + embedding of token p+j-1 -> token p+j
            h = mtp(h[:, :-1], self.token_embedding(tokens[:, j - 1 : -1]))  # [B,64-j,d]
            out.append(self.logits(h))
        return out

    def loss(self, text_ids: torch.Tensor, tokens: torch.Tensor,
             mtp_weight: float = 0.5) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy on image tokens; extra heads weighted by ``mtp_weight``. The parts
        are detached 0-d tensors: reading them is left to the logging step (a host sync)."""
        outs = self(text_ids, tokens)
        parts = [F.cross_entropy(o.flatten(0, 1).float(), tokens[:, j:].flatten())
                 for j, o in enumerate(outs)]
        total = parts[0] + mtp_weight * sum(parts[1:], torch.zeros((), device=tokens.device))
        return total, {f"ce{j}": p.detach() for j, p in enumerate(parts)}

    # ------------------------------------------------------------------ KV-cached decoding
    def prefill(self, text_ids: torch.Tensor) -> tuple[KVCache, torch.Tensor]:
        """Run the prefix + BOS once. -> (cache, hidden [B,d] that predicts token 0)."""
        prefix, valid = self.embed_prefix(text_ids)  # [B,L+1,d]
        w = self.tok_in.weight
        cache = KVCache.empty(self.cfg, text_ids.shape[0], w.device, w.dtype)
        n = prefix.shape[1]
        cache.valid[:, :n] = valid
        h = self._trunk(prefix, cache.valid, cache, 0)
        cache.length = n
        return cache, h[:, -1]

    def decode(self, cache: KVCache, tokens: torch.Tensor) -> torch.Tensor:
        """Append image tokens [B,k] (the next k of the raster) -> hidden [B,d] that predicts
        the token after them."""
        start = cache.length
        x = self.embed_tokens(tokens, start)  # [B,k,d]
        h = self._trunk(x, cache.valid, cache, start)
        cache.length = start + tokens.shape[1]
        return h[:, -1]
