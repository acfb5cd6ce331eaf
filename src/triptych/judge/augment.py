"""Augmentations that make the judge tolerant of generator artefacts without confusing
colours: small shifts, mild photometric jitter, noise, blur, and down-up resampling.
(Autoencoder reconstructions are mixed in by the trainer, not here.)"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    shift: int = 2  # px; objects already jitter ±2 px inside 21 px slots
    brightness: float = 0.06  # additive, in [-1, 1] units
    contrast: float = 0.08  # multiplicative around the image mean
    channel_gain: float = 0.03  # per-channel: small, or orange/red and pink/purple blur
    noise: float = 0.06  # max Gaussian sigma
    blur_prob: float = 0.3
    downup_prob: float = 0.2  # 64 -> 32 -> 64: the softness of a 16×16 latent decoder


def _shift(x: torch.Tensor, g: torch.Generator, s: int) -> tuple[torch.Tensor, list[int]]:
    """Random integer shift per image; also returns how far content moved right (px)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (s, s, s, s), mode="replicate")  # [B, 3, H+2s, W+2s]
    offs = torch.randint(0, 2 * s + 1, (b, 2), generator=g).tolist()
    crops = [padded[i, :, oy:oy + h, ox:ox + w] for i, (oy, ox) in enumerate(offs)]
    return torch.stack(crops), [s - ox for _, ox in offs]


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image 3×3 Gaussian blur, sigma: [B]."""
    t = torch.tensor([-1.0, 0.0, 1.0])
    k1 = torch.exp(-(t[None, :] ** 2) / (2 * sigma[:, None] ** 2))  # [B, 3]
    k1 = k1 / k1.sum(dim=1, keepdim=True)
    k2 = k1[:, :, None] * k1[:, None, :]  # [B, 3, 3]
    b, c, h, w = x.shape
    weight = k2.repeat_interleave(c, dim=0)[:, None]  # [B*C, 1, 3, 3]
    out = F.conv2d(F.pad(x.reshape(1, b * c, h, w), (1, 1, 1, 1), mode="replicate"),
                   weight, groups=b * c)
    return out.reshape(b, c, h, w)


def augment(x: torch.Tensor, g: torch.Generator, cfg: AugmentConfig = AugmentConfig()
            ) -> tuple[torch.Tensor, list[int]]:
    """x: [B, 3, 64, 64] in [-1, 1] -> (augmented copy, same shape and range; per-image
    horizontal content shift in px, for position-dependent labels)."""
    b = x.shape[0]
    shifts = [0] * b

    def u(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g)

    if cfg.shift:
        x, shifts = _shift(x, g, cfg.shift)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + cfg.contrast * (2 * u(b, 1, 1, 1) - 1)) + mean
    x = x * (1 + cfg.channel_gain * (2 * u(b, 3, 1, 1) - 1))
    x = x + cfg.brightness * (2 * u(b, 1, 1, 1) - 1)
    blur = u(b) < cfg.blur_prob
    if blur.any():
        x[blur] = _blur(x[blur], 0.4 + 0.6 * u(int(blur.sum())))
    down = u(b) < cfg.downup_prob
    if down.any():
        small = F.interpolate(x[down], scale_factor=0.5, mode="bilinear", antialias=True)
        x[down] = F.interpolate(small, size=x.shape[-2:], mode="bilinear")
    x = x + cfg.noise * u(b, 1, 1, 1) * torch.randn(x.shape, generator=g)
    return x.clamp(-1, 1), shifts
