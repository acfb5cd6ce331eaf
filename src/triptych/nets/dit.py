"""A small diffusion transformer (DiT, SD3/PixArt style) on 16x16x4 autoencoder latents.

The network only predicts a velocity; schedules, losses and sampling live in
``triptych.diffusion``. Layout (``small``: d 256, 6 blocks, patch 2):

    latent [B,4,16,16] --patchify p2--> 64 tokens [B,64,d] + fixed 2-D sin-cos positions
    c = MLP(timestep) + MLP(pooled text)                       [B,d]  (the adaLN input)
    6 x block:  x += g1 * SelfAttn(LN(x) * (1 + s1) + b1)      adaLN-Zero, QK-LayerNorm
                x += CrossAttn(LN(x), text tokens)             zero-initialised output
                x += g2 * MLP(LN(x) * (1 + s2) + b2)           adaLN-Zero
    final:      Linear(LN(x) * (1 + s) + b) -> unpatchify  -> velocity [B,4,16,16]

Text context convention (shared by pico-dit and pico-lm): ``ctx`` is [B, L, d_ctx] with the
pooled prompt vector in slot 0 (always valid) and per-token states after it, ``mask`` [B, L]
marks real tokens. Slot 0 feeds adaLN and also takes part in cross-attention, so a prompt's
whole conditioning travels as one (ctx, mask) pair, which is what the Euler/CFG sampler in
``triptych.diffusion.sampler`` batches.

adaLN-Zero: every modulation layer (and the final projection) starts at zero, so each block
starts as the identity and the untrained net predicts v = 0 (DiT, Peebles & Xie 2023). Written
from the papers; the DiT repository's code is CC-BY-NC and was not copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from triptych.nets.unet import timestep_embedding


@dataclass(frozen=True)
class DiTConfig:
    in_ch: int = 4  # the autoencoder's latent channels
    input_size: int = 16  # latent side
    patch: int = 2  # p2 -> 8x8 = 64 tokens (recipe (c)); p4 (16 tokens) loses the 3x3 layout
    dim: int = 256  # recipe (c): d192-256; d256 costs ~31 ms/NFE at CFG batch 2 on 2 cores
    depth: int = 6  # recipe (c): 6 blocks fit the ~90 min CPU budget
    heads: int = 4  # 64 channels per head, as DiT-S/B
    mlp_ratio: float = 4.0
    ctx_dim: int = 256  # width of the text context (slot 0 = pooled vector)
    qk_norm: bool = True  # SD3: LayerNorm on q and k keeps attention logits tame at lr 3e-4+
    time_freq: int = 256  # sinusoidal timestep features before the time MLP

    @property
    def tokens(self) -> int:
        return (self.input_size // self.patch) ** 2


DIT_CONFIGS: dict[str, DiTConfig] = {
    # CI smoke tests: ~60k parameters, milliseconds per step
    "tiny": DiTConfig(dim=32, depth=2, heads=2, ctx_dim=32, time_freq=32),
    # recipe (c) low end: 1.0 s per B=64 step on 2 cores
    "small-d192": DiTConfig(dim=192, depth=6, heads=3, ctx_dim=192),
    # the shipped size: recipe (c) d256 L6, ~0.9 s/step in bf16 on 2 AVX-512 cores
    "small": DiTConfig(dim=256, depth=6, heads=4, ctx_dim=256),
}


def sincos_2d(side: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position features for a side x side grid, [side*side, dim]."""
    assert dim % 4 == 0, "dim must be divisible by 4 for 2-D sin-cos positions"
    quarter = dim // 4
    freqs = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter)  # [dim/4]
    coords = torch.arange(side, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # [side, side] each
    ay = yy.flatten()[:, None] * freqs[None]  # [N, dim/4]
    ax = xx.flatten()[:, None] * freqs[None]  # [N, dim/4]
    return torch.cat([ay.sin(), ay.cos(), ax.sin(), ax.cos()], dim=1)  # [N, dim]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """LN(x) modulated per sample: x [B,N,d], shift/scale [B,d]."""
    return x * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    """Multi-head attention; self-attention when ``ctx`` is None, else cross-attention."""

    def __init__(self, dim: int, heads: int, ctx_dim: int | None, qk_norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(ctx_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        norm = (lambda: nn.LayerNorm(self.head_dim)) if qk_norm else nn.Identity
        self.q_norm, self.k_norm = norm(), norm()

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # [B, H, N, dh]

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, n, d = x.shape
        src = x if ctx is None else ctx
        q = self.q_norm(self._split(self.q(x)))  # [B, H, N, dh]
        k, v = self.kv(src).chunk(2, dim=-1)
        k, v = self.k_norm(self._split(k)), self._split(v)  # [B, H, L, dh]
        attn_mask = None if mask is None else mask[:, None, None, :]  # [B, 1, 1, L]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, H, N, dh]
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class DiTBlock(nn.Module):
    """adaLN-Zero self-attention and MLP around an (unmodulated) cross-attention to text."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d, cfg.heads, None, cfg.qk_norm)
        self.norm_x = nn.LayerNorm(d)  # PixArt: cross-attention takes a plain pre-LN
        self.cross = Attention(d, cfg.heads, cfg.ctx_dim, cfg.qk_norm)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, d))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))  # shift/scale/gate x2
        nn.init.zeros_(self.ada[1].weight)  # adaLN-Zero: gates start at 0 -> identity block
        nn.init.zeros_(self.ada[1].bias)
        nn.init.zeros_(self.cross.proj.weight)  # the ungated branch starts at 0 too
        nn.init.zeros_(self.cross.proj.bias)

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=1)  # 6 x [B, d]
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), sh1, sc1))  # [B, N, d]
        x = x + self.cross(self.norm_x(x), ctx, mask)
        return x + g2[:, None] * self.mlp(modulate(self.norm2(x), sh2, sc2))


class FinalLayer(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.linear = nn.Linear(d, cfg.patch * cfg.patch * cfg.in_ch)
        for layer in (self.ada[1], self.linear):
            nn.init.zeros_(layer.weight)  # the untrained net predicts v = 0
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))  # [B, N, p*p*C]


class DiT(nn.Module):
    """(x_t [B,4,16,16], t [B], ctx [B,L,ctx_dim], mask [B,L]) -> velocity [B,4,16,16]."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, p = cfg.dim, cfg.patch
        self.patchify = nn.Conv2d(cfg.in_ch, d, kernel_size=p, stride=p)
        self.register_buffer("pos", sincos_2d(cfg.input_size // p, d)[None], persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(cfg.time_freq, d), nn.SiLU(), nn.Linear(d, d))
        self.pool_mlp = nn.Sequential(nn.Linear(cfg.ctx_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.final = FinalLayer(cfg)
        self._init_linears()

    def _init_linears(self) -> None:
        zeroed = {id(m) for blk in self.blocks for m in (blk.ada[1], blk.cross.proj)}
        zeroed |= {id(self.final.ada[1]), id(self.final.linear)}
        for module in self.modules():
            if isinstance(module, nn.Linear) and id(module) not in zeroed:
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        w = self.patchify.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))  # like a Linear over the patch
        nn.init.zeros_(self.patchify.bias)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, p*p*C] -> [B, C, H, W]."""
        b, p, c = x.shape[0], self.cfg.patch, self.cfg.in_ch
        side = self.cfg.input_size // p
        x = x.view(b, side, side, p, p, c)  # [B, h, w, p, p, C]
        return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, side * p, side * p)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        h = self.patchify(x).flatten(2).transpose(1, 2) + self.pos  # [B, N, d]
        c = self.time_mlp(timestep_embedding(t, self.cfg.time_freq).to(h.dtype))  # [B, d]
        c = c + self.pool_mlp(ctx[:, 0])  # slot 0 is the pooled prompt vector
        for block in self.blocks:
            h = block(h, c, ctx, mask)
        return self.unpatchify(self.final(h, c))  # [B, 4, 16, 16]


def describe(cfg: DiTConfig) -> str:
    """A one-line size summary for cards and docs."""
    return (f"DiT d{cfg.dim} L{cfg.depth} h{cfg.heads} p{cfg.patch} "
            f"({cfg.tokens} tokens, mlp x{cfg.mlp_ratio:g}, ctx {cfg.ctx_dim})")
