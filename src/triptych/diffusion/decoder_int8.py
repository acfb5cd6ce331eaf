"""The latent decoder served in int8: its calibration set.

Static int8 quantisation needs the ranges of every activation, measured on inputs like the
ones served. The generators sample latents that the autoencoder's encoder would give for
scenes of the world, so the calibration set is exactly that: the normalised latents of a
fixed, seeded batch of world renders (no data is stored or downloaded; rendering and encoding
64 scenes takes ~0.3 s, once per exported graph, and the quantised graph is cached on disk).

Measured against the float decoder on 200 other renders' latents (``tests`` check the bound):
49-50 dB PSNR (min 48.6 dB), and 2.7 against 4.7 ms per image at batch 1 on one thread
(``benchmarks/builtin_speed.py`` times whole images with the float and int8 decoders).
"""

from __future__ import annotations

import torch

from triptych.diffusion.onnx_runtime import Int8Calibration
from triptych.nets.autoencoder import Autoencoder

CALIBRATION_SCENES = 64
CALIBRATION_SEED = 64_2026


def calibration_latents(ae: Autoencoder, n: int = CALIBRATION_SCENES,
                        seed: int = CALIBRATION_SEED) -> torch.Tensor:
    """Normalised latents [n,4,16,16] of ``n`` seeded world renders (needs the emoji font)."""
    from triptych.nets.pixels import to_tensor
    from triptych.world.dataset import render_batch

    images, _, _ = render_batch(n, seed)
    with torch.no_grad():
        return ae.normalize(ae.encode(to_tensor(images)))


def decoder_calibration(ae: Autoencoder) -> Int8Calibration:
    """The int8 calibration of ``ae``'s decoder graph (latents rendered once, on first need)."""
    kept: list[torch.Tensor] = []

    def inputs() -> torch.Tensor:
        if not kept:
            kept.append(calibration_latents(ae))
        return kept[0]

    return Int8Calibration(inputs, tag=f"world-renders/{CALIBRATION_SCENES}/{CALIBRATION_SEED}")
