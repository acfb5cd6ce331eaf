"""A cheaper decoder for the shared autoencoder's latent space (the TAESD idea: distil the
decoder, keep the latent space).

The shipped decoder costs ~3 ms per image on ONNX Runtime even in int8: a sixth of a 4-step
pico-turbo image, and a fixed cost that kept its speed-up over pico-diffusion under 8x. This
one has the same layout (``autoencoder.Decoder``) at a third of the width at 16x16, two thirds
at 32x32, half the full-resolution refinement and one residual block at 16x16 instead of two
(~1.0 ms in int8), and is trained to reproduce the shipped decoder's images
(``training/fast_decoder.py``). The latent statistics it decodes are the autoencoder's,
copied in, so it is a drop-in for ``Autoencoder.decode(denormalize(z))``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from triptych.nets.autoencoder import AEConfig, Autoencoder, Decoder
from triptych.nets.checkpoint import CheckpointError, load_into, read_checkpoint, save_checkpoint

CHECKPOINT_NAME = "fast-decoder"

FAST_DECODER_CONFIGS: dict[str, AEConfig] = {
    "tiny": AEConfig(ch=8, ch_low=8, blocks_hi=1, blocks_low=1, out_refine_ch=4),  # CI only
    "base": AEConfig(ch=32, ch_low=32, blocks_hi=1, blocks_low=1, out_refine_ch=8),
}


class FastDecoder(nn.Module):
    """Normalised-latent space of one autoencoder -> images, like ``Autoencoder``'s decode."""

    def __init__(self, cfg: AEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.decoder = Decoder(cfg)
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_ch))
        self.register_buffer("latent_std", torch.ones(cfg.latent_ch))

    @classmethod
    def for_autoencoder(cls, ae: Autoencoder, cfg: AEConfig) -> FastDecoder:
        """A fresh decoder for ``ae``'s latent space (its normalisation copied)."""
        if cfg.latent_ch != ae.cfg.latent_ch:
            raise ValueError("a fast decoder must read the autoencoder's latent channels")
        model = cls(cfg)
        model.latent_mean.copy_(ae.latent_mean)
        model.latent_std.copy_(ae.latent_std)
        return model

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latent [B,4,16,16] -> image [B,3,64,64] clamped to [-1,1]."""
        return self.decoder(z).clamp(-1.0, 1.0)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std.view(1, -1, 1, 1) + self.latent_mean.view(1, -1, 1, 1)


def save(model: FastDecoder, path: Path | str, extra: dict | None = None) -> Path:
    return save_checkpoint(path, model, {"config": asdict(model.cfg), **(extra or {})})


def load(path: Path | str, ae: Autoencoder | None = None) -> FastDecoder:
    """Load a fast decoder; with ``ae``, refuse one distilled for another latent space."""
    tensors, meta = read_checkpoint(path)
    model = FastDecoder(AEConfig(**meta.get("config", {})))
    load_into(model, tensors, path)
    if ae is not None and not (torch.allclose(model.latent_mean, ae.latent_mean, atol=1e-3)
                               and torch.allclose(model.latent_std, ae.latent_std, atol=1e-3)):
        raise CheckpointError(path, "was distilled for another autoencoder (its latent "
                                    "statistics differ)")
    return model.eval().requires_grad_(False)
