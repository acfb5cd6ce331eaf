"""pico-lm's text side: FrozenLM (padding, caching, the real offline MiniLM), the connector
(shapes, pooled slot, padding invariance), PicoLM's null context and checkpoint round trip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from triptych.nets.checkpoint import CheckpointError
from triptych.nets.dit import DIT_CONFIGS
from triptych.nets.lm_connector import (
    LM_DIM,
    ConnectorConfig,
    FrozenLM,
    LMConnector,
    masked_mean,
    pad_states,
)
from triptych.nets.pico import SamplingDefaults
from triptych.nets.pico_dit import PicoLM, load_transformer, save_transformer

TINY = ConnectorConfig(dim=32, hidden=32, blocks=1, heads=2)


class FakeSentenceModel:
    """Stands in for MiniLM: deterministic states, [CLS] + one per word + [SEP]."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, prompts, **_kwargs):
        self.calls.append(list(prompts))
        out = []
        for p in prompts:
            gen = torch.Generator().manual_seed(sum(map(ord, p)))
            out.append(torch.randn(len(p.split()) + 2, LM_DIM, generator=gen))
        return out


def test_pad_states_and_masked_mean() -> None:
    tokens, mask = pad_states([torch.ones(3, 4), 2 * torch.ones(5, 4)])
    assert tokens.shape == (2, 5, 4) and mask.sum(1).tolist() == [3, 5]
    assert torch.equal(tokens[0, 3:], torch.zeros(2, 4))
    assert masked_mean(tokens, mask).tolist() == [[1.0] * 4, [2.0] * 4]


def test_frozen_lm_caches_and_pads() -> None:
    fake = FakeSentenceModel()
    lm = FrozenLM(fake)
    tokens, mask = lm(["a dog", "a dog to the left of a cat"])
    assert tokens.shape == (2, 10, LM_DIM) and mask.sum(1).tolist() == [4, 10]
    again, _ = lm(["a dog"])
    assert torch.equal(again[0], tokens[0, :4])
    assert fake.calls == [["a dog", "a dog to the left of a cat"]]  # second call hit the cache
    assert lm.unknown_words("a fluffy puppy") == []


def test_connector_shapes_pooled_slot_and_padding() -> None:
    torch.manual_seed(0)
    conn = LMConnector(TINY).eval()
    lm = FrozenLM(FakeSentenceModel())
    tokens, mask = lm(["a red circle", "two cats on a blue background"])
    ctx, cmask = conn(tokens, mask)
    assert ctx.shape == (2, 1 + tokens.shape[1], TINY.dim)
    assert cmask[:, 0].all() and torch.equal(cmask[:, 1:], mask)
    pooled = F.normalize(masked_mean(tokens, mask), dim=-1)
    assert torch.allclose(ctx[:, 0], conn.pool_mlp(pooled), atol=1e-6)
    # the same prompt padded further gives the same real tokens and pooled vector
    alone, amask = conn(*lm(["a red circle"]))
    n = int(amask.sum())
    assert torch.allclose(alone[0, :n], ctx[0, :n], atol=1e-5)


def test_pico_lm_null_context_and_roundtrip(tmp_path) -> None:
    torch.manual_seed(0)
    model = PicoLM(DIT_CONFIGS["tiny"], TINY).eval()
    lm = FrozenLM(FakeSentenceModel())
    feats = lm(["a puppy", "a kitty on a red background"])
    x, t = torch.randn(1, 4, 16, 16).expand(2, -1, -1, -1), torch.rand(1).expand(2)
    with torch.no_grad():
        torch.nn.init.normal_(model.backbone.final.linear.weight, std=0.1)
        for block in model.backbone.blocks:
            torch.nn.init.normal_(block.ada[1].weight, std=0.1)
            torch.nn.init.normal_(block.cross.proj.weight, std=0.1)
    v = model(x, t, feats, drop=torch.tensor([True, True]))
    assert torch.allclose(v[0], v[1], atol=1e-5)
    ctx, mask = model.null_context(2, feats[0].shape[1] + 1)
    assert mask.sum().item() == 2

    path = save_transformer(tmp_path / "pico-lm.safetensors", model, SamplingDefaults(steps=5))
    bundle = load_transformer(path, lm=lm)
    assert isinstance(bundle.model, PicoLM) and bundle.tokenizer is lm
    assert bundle.meta["lm"] == "all-MiniLM-L6-v2" and bundle.sampling.steps == 5
    cond = model(x, t, feats)
    assert torch.allclose(bundle.model(x, t, feats), cond, atol=2e-2, rtol=1e-2)
    assert isinstance(load_transformer(path).tokenizer, FrozenLM)  # default front-end
    with pytest.raises(ValueError, match="connector dim"):
        PicoLM(DIT_CONFIGS["tiny"], ConnectorConfig(dim=64))
    with pytest.raises(CheckpointError, match="nothing.safetensors not found"):
        load_transformer(tmp_path / "nothing.safetensors")


def test_real_minilm_knows_synonyms() -> None:
    """The offline MiniLM: per-token states, and "puppy" already sits near "dog"."""
    lm = FrozenLM()
    tokens, mask = lm(["a puppy", "a dog", "a car"])
    assert tokens.shape[-1] == LM_DIM and mask.sum(1).tolist() == [4, 4, 4]  # [CLS] a x [SEP]
    pooled = F.normalize(masked_mean(tokens, mask), dim=-1)
    puppy, dog, car = pooled
    assert puppy @ dog > puppy @ car + 0.1
