"""An ADM-style latent U-Net with cross-attention to text tokens.

The network only predicts (a velocity for flow matching); schedules, losses and sampling live
in ``triptych.diffusion``. Layout on 16x16x4 latents with mult (1, 2, 2):

    16x16 (ch)   ResBlocks                         -> down
     8x8  (2ch)  ResBlocks + self/cross-attention  -> down
     4x4  (2ch)  ResBlocks + self/cross-attention
     mid  Res + Attn + Res, then the mirror image with skip connections.

The timestep and the pooled text embedding are added together and modulate every ResBlock
through a GroupNorm scale/shift. ``triptych.nets.pico.PicoModel`` pairs it with the text encoder.

Two ways to make a step cheaper for a distilled student: lite attention blocks
(``UNetConfig.lite_levels``) and DeepCache (``forward_keep`` / ``forward_shallow``: a step that
reuses the previous step's deep feature and recomputes only the 16x16 level).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from triptych.nets.text_encoder import TextConfig

# an attention block's three residual branches, in the order they run
ATTN_PARTS = ("self", "cross", "mlp")


@dataclass(frozen=True)
class UNetConfig:
    in_ch: int = 4  # the autoencoder's latent channels
    ch: int = 48  # recipes (a): ch48 ~3.5M params, ~0.5 s per B=64 step on 2 cores
    mult: tuple[int, ...] = (1, 2, 2)  # resolutions 16 / 8 / 4
    blocks: int = 2  # ResBlocks per level (ADM uses 2; 1 halves the cost)
    attn_levels: tuple[int, ...] = (1, 2)  # levels with self+cross attention: 8x8 and 4x4
    heads: int = 4
    groups: int = 8  # GroupNorm(8), as in the recipe
    text: TextConfig = TextConfig()
    # levels whose attention blocks keep only ``lite_parts`` (the middle block always keeps
    # all three): a cheaper step for a distilled student, since at batch 1 a step's cost is
    # mostly per-operator overhead and an attention block is most of the operators
    lite_levels: tuple[int, ...] = ()
    lite_parts: tuple[str, ...] = ("cross",)

    def __post_init__(self) -> None:
        if not self.lite_parts or not set(self.lite_parts) <= set(ATTN_PARTS):
            raise ValueError(f"lite_parts: a non-empty subset of {ATTN_PARTS}, "
                             f"got {self.lite_parts}")


UNET_CONFIGS: dict[str, UNetConfig] = {
    # CI smoke tests: a few thousand parameters, runs in milliseconds
    "tiny": UNetConfig(ch=8, mult=(1, 2), blocks=1, attn_levels=(1,), heads=2, groups=4,
                       text=TextConfig(dim=16, layers=1, heads=2)),
    "small": UNetConfig(ch=32, blocks=1, text=TextConfig(dim=64)),  # fast tier (~1.7M)
    "base": UNetConfig(ch=48, blocks=1, text=TextConfig(dim=96)),  # default
    "large": UNetConfig(ch=48, blocks=2, text=TextConfig(dim=96)),  # 5.6M, ~0.9 s/step
}


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t in [0, 1], [B] -> sinusoidal features [B, dim] (t scaled by 1000 like DDPM steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t[:, None].float() * freqs[None]  # [B, half]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)  # scale and shift for norm2
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as identity: stable early steps
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # [B, cout, H, W]
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Self-attention over pixels, then cross-attention to text tokens, then an MLP; ``parts``
    keeps a subset of these three residual branches (a lite block)."""

    def __init__(self, ch: int, ctx_dim: int, heads: int, groups: int,
                 parts: tuple[str, ...] = ATTN_PARTS) -> None:
        super().__init__()
        self.heads = heads
        self.parts = tuple(p for p in ATTN_PARTS if p in parts)
        zero = []
        if "self" in self.parts:
            self.norm = nn.GroupNorm(groups, ch)
            self.qkv = nn.Linear(ch, 3 * ch)
            self.proj_self = nn.Linear(ch, ch)
            zero.append(self.proj_self)
        if "cross" in self.parts:
            self.ln_cross = nn.LayerNorm(ch)
            self.q = nn.Linear(ch, ch)
            self.kv = nn.Linear(ctx_dim, 2 * ch)
            self.proj_cross = nn.Linear(ch, ch)
            zero.append(self.proj_cross)
        if "mlp" in self.parts:
            self.ln_mlp = nn.LayerNorm(ch)
            self.mlp = nn.Sequential(nn.Linear(ch, 4 * ch), nn.GELU(), nn.Linear(4 * ch, ch))
            zero.append(self.mlp[2])
        for proj in zero:
            nn.init.zeros_(proj.weight)  # residual branches start at zero
            nn.init.zeros_(proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.heads, c // self.heads).transpose(1, 2)  # [B, H, N, dh]

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, n, dh = x.shape
        return x.transpose(1, 2).reshape(b, n, h * dh)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        tok = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        if "self" in self.parts:
            h = self.norm(x).flatten(2).transpose(1, 2)  # [B, HW, C]
            q, k, v = (self._heads(t) for t in self.qkv(h).chunk(3, dim=-1))  # [B, H, HW, dh]
            tok = tok + self.proj_self(self._merge(F.scaled_dot_product_attention(q, k, v)))
        if "cross" in self.parts:
            q = self._heads(self.q(self.ln_cross(tok)))  # [B, H, HW, dh]
            k, v = (self._heads(t) for t in self.kv(ctx).chunk(2, dim=-1))  # [B, H, L, dh]
            attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
            tok = tok + self.proj_cross(self._merge(attn))
        if "mlp" in self.parts:
            tok = tok + self.mlp(self.ln_mlp(tok))
        return tok.transpose(1, 2).reshape(b, c, hgt, wid)


class UNet(nn.Module):
    """(x_t [B,4,16,16], t [B], ctx [B,L,D], mask [B,L]) -> velocity [B,4,16,16]."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ch, g = cfg.ch, cfg.groups
        emb_dim = 4 * ch
        ctx_dim = cfg.text.dim
        self.time_mlp = nn.Sequential(
            nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.text_pool = nn.Linear(ctx_dim, emb_dim)  # pooled prompt joins the timestep
        self.conv_in = nn.Conv2d(cfg.in_ch, ch, 3, padding=1)

        levels = cfg.attn_levels
        self.down = nn.ModuleList()
        skips = [ch]
        cur = ch
        for level, m in enumerate(cfg.mult):
            for _ in range(cfg.blocks):
                attn = self._attn(level, ch * m) if level in levels else None
                self.down.append(nn.ModuleList([ResBlock(cur, ch * m, emb_dim, g), attn]))
                cur = ch * m
                skips.append(cur)
            if level < len(cfg.mult) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)

        self.mid1 = ResBlock(cur, cur, emb_dim, g)
        self.mid_attn = AttnBlock(cur, ctx_dim, cfg.heads, g)
        self.mid2 = ResBlock(cur, cur, emb_dim, g)

        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(cfg.mult))):
            for _ in range(cfg.blocks + 1):
                attn = self._attn(level, ch * m) if level in levels else None
                self.up.append(
                    nn.ModuleList([ResBlock(cur + skips.pop(), ch * m, emb_dim, g), attn])
                )
                cur = ch * m
            if level > 0:
                self.up.append(
                    nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                  nn.Conv2d(cur, cur, 3, padding=1))
                )

        self.norm_out = nn.GroupNorm(g, cur)
        self.conv_out = nn.Conv2d(cur, cfg.in_ch, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def _attn(self, level: int, ch: int) -> AttnBlock:
        cfg = self.cfg
        parts = cfg.lite_parts if level in cfg.lite_levels else ATTN_PARTS
        return AttnBlock(ch, cfg.text.dim, cfg.heads, cfg.groups, parts)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        return self._run(x, t, ctx, mask)[0]

    def forward_keep(
        self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The velocity and the deep feature: what enters the 16x16 level of the up path
        [B, C, 16, 16], for ``forward_shallow`` to reuse at the next step (DeepCache)."""
        v, deep = self._run(x, t, ctx, mask, keep=True)
        return v, deep

    def forward_shallow(
        self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor,
        deep: torch.Tensor,
    ) -> torch.Tensor:
        """A step that recomputes only the 16x16 level around a reused deep feature (Ma et
        al. 2023, DeepCache): the coarse layout changes little from one step to the next,
        the full-resolution detail does. A fraction of a full step's operators."""
        emb = self._embed(t, ctx, mask)
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down[:self._level0_down]:
            h = self._block(layer, h, emb, ctx, mask)
            hs.append(h)
        h = deep
        for layer in self.up[len(self.up) - self._level0_up:]:
            h = self._block(layer, torch.cat([h, hs.pop()], dim=1), emb, ctx, mask)
        return self.conv_out(F.silu(self.norm_out(h)))

    @property
    def _level0_down(self) -> int:
        return self.cfg.blocks  # the down path's first entries: the 16x16 blocks

    @property
    def _level0_up(self) -> int:
        return self.cfg.blocks + 1  # the up path's last entries: the 16x16 blocks

    def _embed(self, t: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(ctx.dtype)
        pooled = (ctx * m).sum(1) / m.sum(1).clamp_min(1.0)  # [B, D] mean over real tokens
        return self.time_mlp(timestep_embedding(t, self.cfg.ch)) + self.text_pool(pooled)

    @staticmethod
    def _block(layer: nn.ModuleList, h: torch.Tensor, emb: torch.Tensor, ctx: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
        res, attn = layer
        h = res(h, emb)
        return attn(h, ctx, mask) if attn is not None else h

    def _run(
        self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor,
        keep: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        emb = self._embed(t, ctx, mask)
        h = self.conv_in(x)  # [B, ch, 16, 16]
        hs = [h]
        for layer in self.down:
            if isinstance(layer, nn.ModuleList):
                h = self._block(layer, h, emb, ctx, mask)
            else:
                h = layer(h)  # stride-2 downsample
            hs.append(h)

        h = self.mid2(self.mid_attn(self.mid1(h, emb), ctx, mask), emb)  # [B, 2ch, 4, 4]

        deep = None
        for i, layer in enumerate(self.up):
            if keep and i == len(self.up) - self._level0_up:
                deep = h  # [B, C, 16, 16]: the deep path's output at full resolution
            if isinstance(layer, nn.ModuleList):
                h = self._block(layer, torch.cat([h, hs.pop()], dim=1), emb, ctx, mask)
            else:
                h = layer(h)  # nearest upsample + conv
        return self.conv_out(F.silu(self.norm_out(h))), deep  # [B, 4, 16, 16]
