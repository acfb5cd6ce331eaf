"""Bits tokenizer: shapes and id range, encode/decode agree with the training pass, gradients
through the sign, checkpoint round trip and fingerprint, missing-file message, sizes."""

from __future__ import annotations

import pytest
import torch

from triptych.nets import bits_tokenizer as bt
from triptych.nets.bits_tokenizer import TOKENIZER_CONFIGS, BitsTokenizer
from triptych.nets.checkpoint import CheckpointError


def tiny() -> BitsTokenizer:
    torch.manual_seed(0)
    return BitsTokenizer(TOKENIZER_CONFIGS["tiny"]).eval()


def images(n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_encode_decode_shapes_and_range() -> None:
    tok, x = tiny(), images()
    ids = tok.encode(x)
    assert ids.shape == (2, 64) and ids.dtype == torch.int64
    assert 0 <= int(ids.min()) and int(ids.max()) < tok.vocab_size == 2**6
    y = tok.decode(ids)
    assert y.shape == (2, 3, 64, 64) and float(y.abs().max()) <= 1.0


def test_inference_path_matches_the_training_pass() -> None:
    tok, x = tiny(), images()
    recon, grid_ids, _ = tok(x)  # [B,3,64,64], [B,8,8]
    ids = tok.encode(x)
    assert torch.equal(grid_ids.flatten(1), ids)  # raster order
    assert torch.allclose(tok.decode(ids), recon.clamp(-1, 1), atol=1e-5)
    assert tok.codes(ids).shape == (2, 6, 8, 8)


def test_gradients_reach_the_encoder_through_the_sign() -> None:
    tok = tiny().train()
    x = images()
    recon, _, stats = tok(x)
    ((recon - x).abs().mean() + stats["loss"]).backward()
    first = tok.encoder.net[1].weight.grad  # the stem conv
    assert first is not None and first.abs().sum() > 0


def test_checkpoint_round_trip_and_fingerprint(tmp_path) -> None:
    tok = tiny()
    path = bt.save(tok, tmp_path / "bits-tokenizer.safetensors", {"note": "test"})
    a, b = bt.load(path), bt.load(path)
    assert a.cfg == tok.cfg and not a.training
    assert bt.fingerprint(a) == bt.fingerprint(b)
    x = images()
    assert torch.allclose(a.decode(a.encode(x)), tok.decode(a.encode(x)), atol=2e-2)  # fp16
    other = BitsTokenizer(TOKENIZER_CONFIGS["tiny"])
    assert bt.fingerprint(other) != bt.fingerprint(tok)


def test_a_large_tokenizer_stores_its_decoder_int8_and_its_encoder_exactly(tmp_path,
                                                                           monkeypatch) -> None:
    from safetensors import safe_open

    tok = BitsTokenizer(TOKENIZER_CONFIGS["small"]).eval()  # tiny's matrices are too small
    monkeypatch.setattr(bt, "INT8_DECODER_ABOVE", 0)  # to be stored int8; small counts as large
    path = bt.save(tok, tmp_path / "big.safetensors")
    with safe_open(str(path), "pt") as f:
        dtypes = {k: f.get_slice(k).get_dtype() for k in f.keys()}
    assert any(k.startswith("decoder.") and d == "I8" for k, d in dtypes.items())
    assert not any(k.startswith("encoder.") and d == "I8" for k, d in dtypes.items())
    big = bt.load(path)
    monkeypatch.setattr(bt, "INT8_DECODER_ABOVE", 2**40)
    exact = bt.load(bt.save(tok, tmp_path / "fp16.safetensors"))
    x = images()
    assert bt.fingerprint(big) == bt.fingerprint(exact)  # same token space ...
    assert torch.equal(big.encode(x), exact.encode(x))  # ... the same ids
    assert torch.allclose(big.decode(big.encode(x)), exact.decode(big.encode(x)), atol=5e-2)


def test_missing_or_corrupt_checkpoint_names_the_file(tmp_path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="nope.safetensors not found"):
        bt.load(missing)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.safetensors is corrupt"):
        bt.load(bad)


def test_small_config_size_and_grid() -> None:
    small = BitsTokenizer(TOKENIZER_CONFIGS["small"])
    n = sum(p.numel() for p in small.parameters())
    assert small.bits == 12 and small.vocab_size == 4096
    assert 1_500_000 < n < 2_500_000  # docs/pico-bits.md quotes the measured count
    with torch.no_grad():
        assert small.encoder(torch.zeros(1, 3, 64, 64)).shape == (1, 12, 8, 8)


def test_a_context_stage_starts_as_a_no_op_and_keeps_the_token_space(tmp_path) -> None:
    tok, x = tiny(), images()
    wider = bt.with_context(tok, 2)
    assert wider.cfg.context_layers == 2 and wider.decoder.context is not None
    assert bt.fingerprint(wider) == bt.fingerprint(tok)  # same encoder: same token ids
    ids = tok.encode(x)
    assert torch.equal(wider.encode(x), ids)
    assert torch.allclose(wider.decode(ids), tok.decode(ids), atol=1e-6)  # zero-initialised
    assert bt.with_context(wider, 2) is wider
    loaded = bt.with_context(tok.requires_grad_(False), 1)  # a loaded tokenizer stays frozen
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(ValueError, match="already has 2 context layers"):
        bt.with_context(wider, 3)
    # once trained it draws differently, and the checkpoint keeps the stage
    with torch.no_grad():
        wider.decoder.context.out.weight.normal_(0, 0.1)
    assert not torch.allclose(wider.decode(ids), tok.decode(ids), atol=1e-3)
    back = bt.load(bt.save(wider, tmp_path / "ctx.safetensors"))
    assert back.cfg.context_layers == 2
    assert torch.allclose(back.decode(ids), wider.decode(ids), atol=2e-2)  # fp16


def test_the_context_stage_sees_the_whole_grid() -> None:
    """A change in one corner cell reaches the opposite corner's pixels only through the
    context stage (in the tiny config the convs' reach ends before it: checked below)."""
    plain = tiny()
    tok = bt.with_context(plain, 1)
    with torch.no_grad():
        tok.decoder.context.out.weight.normal_(0, 0.5)
    codes = tok.codes(tok.encode(images(1)))
    moved = codes.clone()
    moved[:, :, 0, 0] *= -1

    def far_change(t: BitsTokenizer) -> float:
        return float((t.decode_codes(codes) - t.decode_codes(moved))[..., 56:, 56:].abs().max())

    assert far_change(plain) == 0.0 and far_change(tok) > 0
