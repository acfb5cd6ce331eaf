"""A TAESD-like conv autoencoder: 64x64x3 images <-> 16x16x4 latents (f=4, z=4).

Plain conv encoder/decoder (no KL, no quantiser), shrunk from TAESD's 64-channel, 3-downsample
design. A ``PixelUnshuffle(2)`` stem moves the first factor 2 into channels, because full-
resolution convs dominate the CPU cost at 64x64; the decoder mirrors it with ``PixelShuffle``.
Latents are clamped with TAESD's ``3 * tanh(z / 3)`` so they stay in a fixed range.

Diffusion models do not see raw latents: ``normalize`` shifts and scales them per channel to
zero mean / unit std using statistics measured on training renders and stored in the
checkpoint (Stable Diffusion's scale factor, per channel).

Images are float tensors in [-1, 1], shape [B, 3, 64, 64].
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from triptych.nets.checkpoint import load_into, read_checkpoint, save_checkpoint, weights_path

CHECKPOINT_NAME = "autoencoder"


@dataclass(frozen=True)
class AEConfig:
    in_ch: int = 3
    latent_ch: int = 4  # 16x16x4 latent, as the recipes fix for all diffusion families
    ch: int = 48  # width at 32x32 (after the pixel-unshuffle stem); 64 cost 2x per step
    ch_low: int = 96  # width at 16x16
    blocks_hi: int = 1  # residual blocks at 32x32 (the expensive resolution)
    blocks_low: int = 2  # residual blocks at 16x16 (4x cheaper per block)
    out_refine_ch: int = 16  # a thin full-res conv after PixelShuffle sharpens text edges


AE_CONFIGS: dict[str, AEConfig] = {
    # CI smoke tests only
    "tiny": AEConfig(ch=8, ch_low=16, blocks_hi=1, blocks_low=1, out_refine_ch=4),
    "base": AEConfig(),
}


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.ReLU(inplace=False)  # TAESD: plain ReLU, no norm layers (fast on CPU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(self.act(x))))


class Encoder(nn.Module):
    def __init__(self, cfg: AEConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.PixelUnshuffle(2),  # [B,3,64,64] -> [B,12,32,32]
            nn.Conv2d(cfg.in_ch * 4, cfg.ch, 3, padding=1),
            *[ResBlock(cfg.ch) for _ in range(cfg.blocks_hi)],
            nn.Conv2d(cfg.ch, cfg.ch_low, 3, stride=2, padding=1),  # -> [B,ch_low,16,16]
            *[ResBlock(cfg.ch_low) for _ in range(cfg.blocks_low)],
            nn.ReLU(),
            nn.Conv2d(cfg.ch_low, cfg.latent_ch, 3, padding=1),  # -> [B,4,16,16]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: AEConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(cfg.latent_ch, cfg.ch_low, 3, padding=1),  # [B,4,16,16] -> [B,ch_low,16,16]
            *[ResBlock(cfg.ch_low) for _ in range(cfg.blocks_low)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cfg.ch_low, cfg.ch, 3, padding=1),  # -> [B,ch,32,32]
            *[ResBlock(cfg.ch) for _ in range(cfg.blocks_hi)],
            nn.ReLU(),
            nn.Conv2d(cfg.ch, cfg.out_refine_ch * 4, 3, padding=1),
            nn.PixelShuffle(2),  # -> [B,refine,64,64]
            nn.ReLU(),
            nn.Conv2d(cfg.out_refine_ch, cfg.in_ch, 3, padding=1),  # -> [B,3,64,64]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Autoencoder(nn.Module):
    def __init__(self, cfg: AEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        # per-channel latent statistics for diffusion; identity until measured after training
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_ch))
        self.register_buffer("latent_std", torch.ones(cfg.latent_ch))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,64,64] in [-1,1] -> raw latent [B,4,16,16] in (-3, 3)."""
        return 3.0 * torch.tanh(self.encoder(x) / 3.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latent [B,4,16,16] -> image [B,3,64,64] clamped to [-1,1]."""
        return self.decoder(z).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))  # unclamped for the training loss

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latent -> zero-mean unit-std latent (what the diffusion nets model)."""
        return (z - self.latent_mean.view(1, -1, 1, 1)) / self.latent_std.view(1, -1, 1, 1)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std.view(1, -1, 1, 1) + self.latent_mean.view(1, -1, 1, 1)


def save(model: Autoencoder, path: Path | str, extra: dict | None = None) -> Path:
    return save_checkpoint(path, model, {"config": asdict(model.cfg), **(extra or {})})


def load(path: Path | str) -> Autoencoder:
    tensors, meta = read_checkpoint(path)
    model = Autoencoder(AEConfig(**meta.get("config", {})))
    load_into(model, tensors, path)
    return model.eval().requires_grad_(False)


@functools.lru_cache(maxsize=1)
def load_pretrained(path: str | None = None) -> Autoencoder:
    """The shipped autoencoder (cached per process), in eval mode with gradients off."""
    return load(path or weights_path(CHECKPOINT_NAME))


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [-1, 1] (peak-to-peak range 2)."""
    mse = ((x - y) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(4.0 / mse)
