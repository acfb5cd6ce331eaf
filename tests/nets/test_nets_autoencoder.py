"""Autoencoder: shapes, latent range, normalisation, checkpoint round trip and clear errors."""

from __future__ import annotations

import pytest
import torch

from triptych.nets.autoencoder import AE_CONFIGS, Autoencoder, load, psnr, save
from triptych.nets.checkpoint import CheckpointError


@pytest.fixture
def tiny_ae() -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(AE_CONFIGS["tiny"]).eval()


def test_shapes_and_ranges(tiny_ae: Autoencoder) -> None:
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    z = tiny_ae.encode(x)
    assert z.shape == (2, 4, 16, 16)
    assert z.abs().max() < 3.0  # 3 tanh(z/3) clamp
    y = tiny_ae.decode(z)
    assert y.shape == (2, 3, 64, 64)
    assert y.min() >= -1 and y.max() <= 1


def test_normalize_roundtrip(tiny_ae: Autoencoder) -> None:
    tiny_ae.latent_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    tiny_ae.latent_std.copy_(torch.tensor([0.5, 2.0, 1.0, 0.7]))
    z = torch.randn(3, 4, 16, 16)
    assert torch.allclose(tiny_ae.denormalize(tiny_ae.normalize(z)), z, atol=1e-6)


def test_psnr_identity_is_high() -> None:
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert (psnr(x, x) > 90).all()
    assert psnr(x, x + 0.1).mean() < 40


def test_save_load_roundtrip(tiny_ae: Autoencoder, tmp_path) -> None:
    path = save(tiny_ae, tmp_path / "ae.safetensors")
    loaded = load(path)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    # fp16 storage: close, not bit-identical
    assert torch.allclose(loaded.encode(x), tiny_ae.encode(x), atol=2e-2)
    assert not any(p.requires_grad for p in loaded.parameters())


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="nope.safetensors not found"):
        load(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="bad.safetensors is corrupt"):
        load(bad)
