"""DiT and pico-dit: shapes, adaLN-Zero identity at init, masking, CFG null context, checkpoint
round trip and errors, and the pipeline's seeding, previews and CFG batching."""

from __future__ import annotations

import pytest
import torch

from triptych.diffusion.dit_pipeline import DiTPipeline, seeded_noise
from triptych.nets.autoencoder import AE_CONFIGS, Autoencoder
from triptych.nets.checkpoint import CheckpointError, save_checkpoint
from triptych.nets.dit import DIT_CONFIGS, DiT, sincos_2d
from triptych.nets.pico import SamplingDefaults
from triptych.nets.pico_dit import PicoDiT, TransformerBundle, load_transformer, save_transformer
from triptych.nets.text_encoder import TextConfig, Tokenizer

CFG = DIT_CONFIGS["tiny"]
PROMPTS = ["a red circle", "two cats", "a dog to the left of a cat"]


def _randomise(module: torch.nn.Module) -> None:
    """Give the zero-initialised layers weights, so the tests see a non-trivial function."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)


@pytest.fixture
def tok() -> Tokenizer:
    return Tokenizer.build(PROMPTS, max_len=12)


@pytest.fixture
def model(tok: Tokenizer) -> PicoDiT:
    torch.manual_seed(0)
    text = TextConfig(vocab_size=len(tok), max_len=tok.max_len, dim=CFG.ctx_dim, layers=1,
                      heads=2)
    return PicoDiT(CFG, text).eval()


def _ctx(b: int = 2, length: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.ones(b, length, dtype=torch.bool)
    mask[1:, 3:] = False
    return torch.randn(b, length, CFG.ctx_dim), mask


def test_registry_sizes() -> None:
    assert {"tiny", "small"} <= set(DIT_CONFIGS)
    small = DIT_CONFIGS["small"]
    assert small.tokens == 64 and small.depth == 6 and 192 <= small.dim <= 256


def test_output_shape_and_zero_prediction_at_init() -> None:
    net = DiT(CFG)
    ctx, mask = _ctx(3)
    v = net(torch.randn(3, 4, 16, 16), torch.rand(3), ctx, mask)
    assert v.shape == (3, 4, 16, 16)
    assert v.abs().max() == 0  # zero-initialised final layer


def test_adaln_zero_blocks_start_as_identity() -> None:
    net = DiT(CFG)
    h = torch.randn(2, CFG.tokens, CFG.dim)
    c = torch.randn(2, CFG.dim)
    ctx, mask = _ctx()
    for block in net.blocks:
        assert torch.equal(block(h, c, ctx, mask), h)


def test_unpatchify_inverts_patch_layout() -> None:
    net = DiT(CFG)
    x = torch.randn(2, 4, 16, 16)
    p, side = CFG.patch, 16 // CFG.patch
    tokens = x.view(2, 4, side, p, side, p).permute(0, 2, 4, 3, 5, 1).reshape(2, side * side, -1)
    assert torch.equal(net.unpatchify(tokens), x)


def test_padded_tokens_are_ignored() -> None:
    net = DiT(CFG).eval()
    _randomise(net)
    ctx, mask = _ctx()
    x, t = torch.randn(2, 4, 16, 16), torch.rand(2)
    other = ctx.clone()
    other[1, 3:] = 99.0  # masked positions of row 1
    assert torch.allclose(net(x, t, ctx, mask), net(x, t, other, mask), atol=1e-5)
    other[1, 1] = 5.0  # a real token changes the output
    assert not torch.allclose(net(x, t, ctx, mask), net(x, t, other, mask), atol=1e-5)


def test_sincos_positions_are_distinct() -> None:
    pos = sincos_2d(8, 32)
    assert pos.shape == (64, 32)
    assert torch.cdist(pos, pos).add(torch.eye(64)).min() > 0


def test_context_slot_zero_is_pooled_and_ids_path_matches(model: PicoDiT, tok) -> None:
    _randomise(model)
    ids = tok(PROMPTS[:2])
    ctx, mask = model.encode_text(ids)
    assert ctx.shape == (2, 1 + tok.max_len, CFG.ctx_dim) and mask[:, 0].all()
    x, t = torch.randn(2, 4, 16, 16), torch.rand(2)
    assert torch.allclose(model(x, t, ids), model(x, t, context=(ctx, mask)))


def test_null_context_and_cfg_dropout(model: PicoDiT, tok) -> None:
    _randomise(model)
    ctx, mask = model.null_context(3, 7)
    assert ctx.shape == (3, 7, CFG.ctx_dim)
    assert mask[:, 0].all() and not mask[:, 1:].any()
    assert torch.equal(ctx[:, 0], model.null.detach().expand(3, -1))
    x, t = torch.randn(1, 4, 16, 16).expand(2, -1, -1, -1), torch.rand(1).expand(2)
    drop = torch.tensor([True, True])
    v = model(x, t, tok(PROMPTS[:2]), drop=drop)
    assert torch.allclose(v[0], v[1], atol=1e-5)  # dropped rows ignore their prompts
    v = model(x, t, tok(PROMPTS[:2]), drop=torch.tensor([False, True]))
    assert not torch.allclose(v[0], v[1], atol=1e-5)


def test_gradients_reach_text_encoder_and_null(model: PicoDiT, tok) -> None:
    model.train()
    _randomise(model)
    drop = torch.tensor([False, True])
    model(torch.randn(2, 4, 16, 16), torch.rand(2), tok(PROMPTS[:2]), drop=drop).sum().backward()
    assert model.text.tok.weight.grad is not None and model.null.grad.abs().sum() > 0


def test_checkpoint_roundtrip(model: PicoDiT, tok, tmp_path) -> None:
    _randomise(model)
    path = save_transformer(tmp_path / "pico-dit.safetensors", model,
                            SamplingDefaults(steps=3, guidance=2.5), tok)
    bundle = load_transformer(path)
    assert isinstance(bundle.model, PicoDiT) and bundle.meta["kind"] == "pico-dit"
    assert bundle.tokenizer.vocab == tok.vocab and bundle.sampling.steps == 3
    assert bundle.model.cfg == model.cfg
    x, t, ids = torch.randn(1, 4, 16, 16), torch.rand(1), tok(["two cats"])
    # pico-dit stores its matrices as per-row int8: outputs agree to ~1 % of their range
    got, want = bundle.model(x, t, ids), model(x, t, ids)
    assert (got - want).abs().max() <= 0.02 * want.abs().max()


def test_checkpoint_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="missing.safetensors not found"):
        load_transformer(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.safetensors is corrupt"):
        load_transformer(bad)
    other = save_checkpoint(tmp_path / "unet.safetensors", torch.nn.Linear(2, 2),
                            {"config": {}})  # some other model's file: no "kind"
    with pytest.raises(CheckpointError, match="unet.safetensors has incomplete metadata"):
        load_transformer(other)


def _pipe(model: PicoDiT, tok: Tokenizer, guidance: float | None = 3.0) -> DiTPipeline:
    _randomise(model)
    with torch.no_grad():
        model.backbone.final.linear.weight.mul_(0.05)  # keep the latents in a sane range
    ae = Autoencoder(AE_CONFIGS["tiny"]).eval()
    bundle = TransformerBundle(model, tok, SamplingDefaults(steps=4, guidance=guidance))
    return DiTPipeline(bundle, ae)


def test_pipeline_same_seed_same_image_whatever_the_batch(model, tok) -> None:
    pipe = _pipe(model, tok)
    batch = pipe(PROMPTS[:2], [10, 11])
    single = pipe(PROMPTS[1:2], [11])
    assert batch.shape == (2, 3, 64, 64) and batch.abs().max() <= 1
    assert torch.allclose(batch[1:2], single, atol=1e-4)
    assert not torch.allclose(pipe(PROMPTS[1:2], [12]), single)
    assert torch.equal(seeded_noise([11]), seeded_noise([10, 11])[1:])


def test_pipeline_previews_and_cfg_batching(model, tok) -> None:
    pipe = _pipe(model, tok)
    seen: list[float] = []
    batches: list[int] = []
    handle = model.backbone.register_forward_hook(lambda m, i, o: batches.append(i[0].shape[0]))
    pipe(PROMPTS[:1], [0], steps=8, on_preview=lambda f, img: seen.append(f), preview_every=2)
    assert seen == [1 / 8, 3 / 8, 5 / 8, 7 / 8]
    assert batches == [2] * 8  # cond + uncond in one batch
    batches.clear()
    pipe(PROMPTS[:1], [0], guidance=None)
    handle.remove()
    assert batches == [1] * 4  # no guidance: no unconditional pass


def test_jit_pipeline_matches_eager(model, tok) -> None:
    eager = _pipe(model, tok)
    traced = DiTPipeline(eager.bundle, eager.ae, runtime="torchscript")
    a = eager(PROMPTS[:2], [4, 5])
    b = traced(PROMPTS[:2], [4, 5])
    assert torch.allclose(a, b, atol=1e-4)
    assert set(traced._net.traced) == {(2 * 2, 1 + tok.max_len)}  # CFG batch 4, slot 0 + L
    # "onnx" serves the decoder on ONNX Runtime but keeps a DiT backbone on TorchScript
    served = DiTPipeline(eager.bundle, eager.ae, runtime="onnx", decoder_int8=False)
    assert type(served._net).__name__ == "_TracedDiT"
    assert torch.allclose(served(PROMPTS[:2], [4, 5]), a, atol=1e-4)
