"""Progress previews from a pipeline's latents mid-run, without running its full VAE.

Two ways, cheapest first:

* a **preview decoder** shipped in the model folder (``preview_decoder/``, an
  ``AutoencoderTiny`` such as TAESD/TAEF1 saved with ``save_pretrained``): a real, small
  decode of 4-D latents;
* else a **latent approximation**: the latent channels projected to RGB (a fixed projection
  for the 4-channel Stable Diffusion latents, the first three channels otherwise), each image
  stretched to the full range. Coarse (one pixel per latent cell) but costs microseconds.

Packed transformer latents (``[B, tokens, C]``, FLUX and FLUX.2) are laid back onto their
grid from the requested aspect ratio first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from PIL import Image

PREVIEW_SIDE = 128  # previews are at most this wide or high

# Stable Diffusion 1.x/2.x/XL latent channel -> RGB (a well-known least-squares fit)
SD_RGB = torch.tensor([[0.298, 0.207, 0.208],
                       [0.187, 0.286, 0.173],
                       [-0.158, 0.189, 0.264],
                       [-0.184, -0.271, -0.473]])


def as_grid(latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Latents as [B, C, h, w] whatever the pipeline's layout."""
    if latents.ndim == 5:  # [B, C, frames, h, w]
        latents = latents[:, :, 0]
    if latents.ndim == 4:
        return latents
    if latents.ndim != 3:
        raise ValueError(f"cannot preview latents of shape {tuple(latents.shape)}")
    b, tokens, c = latents.shape
    h = max(1, round(math.sqrt(tokens * height / width)))
    w = max(1, tokens // h)
    if h * w != tokens:  # not a clean grid: fall back to a square-ish one
        w = max(1, round(math.sqrt(tokens)))
        h = tokens // w
    return latents[:, : h * w].reshape(b, h, w, c).permute(0, 3, 1, 2)


def approximate(latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
    """One coarse RGB preview per image in the batch."""
    grid = as_grid(latents.detach().float().cpu(), width, height)  # [B, C, h, w]
    if grid.shape[1] == 4:
        rgb = torch.einsum("bchw,cr->brhw", grid, SD_RGB)
    else:
        rgb = grid[:, :3] if grid.shape[1] >= 3 else grid[:, :1].expand(-1, 3, -1, -1)
    return [_to_image(x, width, height) for x in rgb]


def decode(decoder: Any, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
    """Previews through a tiny decoder (AutoencoderTiny): [-1, 1] images."""
    with torch.no_grad():
        param = next(decoder.parameters())
        out = decoder.decode(latents.to(param.device, param.dtype)).sample  # [B, 3, H, W]
    return [_to_image(x.float().cpu(), width, height, stretch=False) for x in out]


def _to_image(rgb: torch.Tensor, width: int, height: int, stretch: bool = True) -> Image.Image:
    """[3, h, w] -> an RGB preview at the request's aspect, at most PREVIEW_SIDE a side."""
    if stretch:
        lo, hi = rgb.amin(), rgb.amax()
        rgb = (rgb - lo) / (hi - lo + 1e-6)
    else:
        rgb = (rgb.clamp(-1, 1) + 1) / 2
    arr = (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    image = Image.fromarray(arr, "RGB")
    scale = PREVIEW_SIDE / max(width, height)
    size = (max(1, round(width * min(1.0, scale))), max(1, round(height * min(1.0, scale))))
    return image.resize(size, Image.BILINEAR)
