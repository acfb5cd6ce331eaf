"""Latent U-Net and PicoModel: shapes, zero-initialised output, context reuse, checkpoint."""

from __future__ import annotations

import pytest
import torch

from triptych.nets.checkpoint import CheckpointError
from triptych.nets.pico import PicoModel, SamplingDefaults, load_pico, save_pico
from triptych.nets.text_encoder import Tokenizer
from triptych.nets.unet import UNET_CONFIGS, timestep_embedding


@pytest.fixture
def model() -> PicoModel:
    torch.manual_seed(0)
    return PicoModel(UNET_CONFIGS["tiny"]).eval()


def test_registry_has_tiny_and_shipped_sizes() -> None:
    assert {"tiny", "small", "base"} <= set(UNET_CONFIGS)


def test_output_shape_and_zero_init(model: PicoModel) -> None:
    x = torch.randn(3, 4, 16, 16)
    ids = torch.randint(3, 20, (3, 24))
    v = model(x, torch.rand(3), ids)
    assert v.shape == (3, 4, 16, 16)
    assert v.abs().max() == 0  # conv_out starts at zero: a stable first step


def test_context_path_equals_ids_path(model: PicoModel) -> None:
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.1)
    x, t = torch.randn(2, 4, 16, 16), torch.rand(2)
    ids = torch.randint(3, 20, (2, 24))
    ids[:, 5:] = 0
    ctx = model.encode_text(ids)
    assert torch.allclose(model(x, t, ids), model(x, t, context=ctx))


def test_gradients_reach_text_encoder(model: PicoModel) -> None:
    model.train()
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.1)
    loss = model(torch.randn(2, 4, 16, 16), torch.rand(2), torch.randint(3, 20, (2, 24))).sum()
    loss.backward()
    assert model.text.tok.weight.grad is not None


def test_timestep_embedding_shape() -> None:
    assert timestep_embedding(torch.tensor([0.0, 0.5, 1.0]), 8).shape == (3, 8)


def test_pico_checkpoint_roundtrip(model: PicoModel, tmp_path) -> None:
    tok = Tokenizer.build(["a red circle"], max_len=24)
    path = save_pico(tmp_path / "m.safetensors", model, model.cfg, tok,
                     SamplingDefaults(steps=4, guidance=None))
    bundle = load_pico(path)
    assert bundle.tokenizer.vocab == tok.vocab
    assert bundle.sampling.steps == 4 and bundle.sampling.guidance is None
    assert bundle.model.cfg == model.cfg
    x, t, ids = torch.randn(1, 4, 16, 16), torch.rand(1), tok(["a red circle"])
    assert torch.allclose(bundle.model(x, t, ids), model(x, t, ids), atol=1e-3)


def test_pico_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="missing.safetensors not found"):
        load_pico(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_pico(bad)


def test_lite_blocks_keep_only_their_parts_and_round_trip(tmp_path) -> None:
    import dataclasses

    from triptych.nets.unet import ATTN_PARTS, AttnBlock

    cfg = dataclasses.replace(UNET_CONFIGS["tiny"], lite_levels=(1,), lite_parts=("cross",))
    torch.manual_seed(0)
    lite = PicoModel(cfg).eval()
    blocks = [m for m in lite.unet.modules() if isinstance(m, AttnBlock)]
    assert lite.unet.mid_attn.parts == ATTN_PARTS  # the middle block is never lite
    assert {b.parts for b in blocks if b is not lite.unet.mid_attn} == {("cross",)}
    assert not any(hasattr(b, "qkv") or hasattr(b, "mlp") for b in blocks
                   if b is not lite.unet.mid_attn)
    full = PicoModel(UNET_CONFIGS["tiny"])
    missing, dropped = lite.load_state_dict(full.state_dict(), strict=False)
    assert not missing and any(".qkv." in k for k in dropped)  # a subset of the full blocks
    tok = Tokenizer.build(["a cat"])
    path = save_pico(tmp_path / "lite.safetensors", lite, cfg, tok, SamplingDefaults())
    back = load_pico(path).model
    assert back.cfg.lite_levels == (1,) and back.cfg.lite_parts == ("cross",)
    x, t, ids = torch.randn(2, 4, 16, 16), torch.rand(2), torch.randint(3, 6, (2, 24))
    torch.testing.assert_close(back(x, t, ids), lite(x, t, ids), atol=1e-2, rtol=0)  # fp16


def test_a_lite_block_with_no_parts_is_refused() -> None:
    import dataclasses

    with pytest.raises(ValueError, match="lite_parts"):
        dataclasses.replace(UNET_CONFIGS["tiny"], lite_parts=())
    with pytest.raises(ValueError, match="lite_parts"):
        dataclasses.replace(UNET_CONFIGS["tiny"], lite_parts=("conv",))
