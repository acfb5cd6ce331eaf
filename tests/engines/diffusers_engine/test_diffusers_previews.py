"""Latent previews: every layout a pipeline hands its step callback becomes a small RGB image
at the request's aspect."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from triptych.engines.diffusers_engine import previews


def test_stable_diffusion_latents_project_to_colour():
    latents = torch.zeros(2, 4, 8, 8)
    latents[0, 0] = 1.0  # channel 0 leans red
    latents[0, 0, :4] = -1.0
    images = previews.approximate(latents, 64, 64)
    assert len(images) == 2 and images[0].size == (64, 64) and images[0].mode == "RGB"
    top, bottom = np.asarray(images[0])[:16].mean((0, 1)), np.asarray(images[0])[-16:].mean((0, 1))
    assert bottom[0] > top[0]


@pytest.mark.parametrize(("width", "height"), [(64, 32), (32, 64), (48, 48)])
def test_packed_tokens_go_back_on_their_grid(width, height):
    h, w = height // 8, width // 8
    grid = torch.randn(1, 16, h, w)
    tokens = grid.permute(0, 2, 3, 1).reshape(1, h * w, 16)  # FLUX-style [B, tokens, C]
    assert torch.equal(previews.as_grid(tokens, width, height), grid)
    assert previews.approximate(tokens, width, height)[0].size == (width, height)


def test_large_images_give_small_previews():
    image = previews.approximate(torch.randn(1, 16, 128, 64), 2048, 1024)[0]
    assert image.size == (128, 64)


def test_video_shaped_latents_use_the_first_frame():
    assert previews.as_grid(torch.randn(1, 16, 3, 4, 4), 32, 32).shape == (1, 16, 4, 4)
