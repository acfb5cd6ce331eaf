"""The fast decoder's trainer: a tiny run writes a loadable checkpoint and card for the
teacher's latent space, the same seed gives the same weights, and a run resumes."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from tests.support.training import quiet

from triptych.nets import autoencoder as ae_mod
from triptych.nets import fast_decoder as fd_mod
from triptych.nets.checkpoint import CheckpointError
from triptych.training.fast_decoder import train_fast_decoder


def test_tiny_run_checkpoint_card_and_determinism(tiny_runs, tmp_path) -> None:
    out = tmp_path / "fd.safetensors"
    summary = train_fast_decoder(tiny=True, seed=1, out=out, ae_path=tiny_runs["ae"],
                                 run_dir=tmp_path / "run", **quiet)
    assert summary["steps"] == 4 and "psnr_vs_teacher_train" in summary
    teacher = ae_mod.load(tiny_runs["ae"])
    fd = fd_mod.load(out, teacher)  # its latent statistics are the teacher's
    z = torch.randn(2, 4, 16, 16)
    image = fd.decode(fd.denormalize(z))
    assert image.shape == (2, 3, 64, 64) and image.abs().max() <= 1.0
    card = out.with_suffix(".md").read_text()
    assert "triptych train fast-decoder --seed 1 --steps 4 --tiny" in card and "PSNR" in card
    again = tmp_path / "again.safetensors"
    train_fast_decoder(tiny=True, seed=1, out=again, ae_path=tiny_runs["ae"],
                       run_dir=tmp_path / "again", **quiet)
    a, b = load_file(str(out)), load_file(str(again))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a finished run resumes at its end: nothing more to train, the same weights
    train_fast_decoder(tiny=True, seed=1, out=again, ae_path=tiny_runs["ae"],
                       run_dir=tmp_path / "again", **quiet)
    b = load_file(str(again))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_decoder_for_another_autoencoder_is_refused(tiny_runs, tmp_path) -> None:
    out = tmp_path / "fd.safetensors"
    train_fast_decoder(tiny=True, seed=1, out=out, ae_path=tiny_runs["ae"],
                       run_dir=tmp_path / "run", **quiet)
    other = ae_mod.load(tiny_runs["ae"])
    other.latent_std.mul_(2)
    with pytest.raises(CheckpointError, match="another autoencoder"):
        fd_mod.load(out, other)
