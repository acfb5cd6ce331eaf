"""BitsGPT: the KV cache reproduces the uncached forward, masking, causality, the decode loops
(cached == uncached, seeded, multi-token), CFG on logits, and the small config's size."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from triptych.autoregressive.sampling import (
    DecodeOptions,
    generate,
    guidance_at,
    guided_logits,
    sample_ids,
)
from triptych.nets.gpt import GPT_CONFIGS, BitsGPT, attention_mask
from triptych.nets.text_encoder import Tokenizer

PROMPTS = ["a red circle", "two cats and a dog to the left of a blue square"]


def tok() -> Tokenizer:
    return Tokenizer.build(PROMPTS, max_len=12)


def tiny(n_predict: int = 2, seed: int = 0, n_tokens: int = 16) -> BitsGPT:
    """The tiny config on a 4x4 token grid: the maths is the same, the loops 4x shorter."""
    cfg = GPT_CONFIGS["tiny"]
    cfg = replace(cfg, n_predict=n_predict, n_tokens=n_tokens,
                  text=replace(cfg.text, vocab_size=len(tok()), max_len=12))
    torch.manual_seed(seed)
    model = BitsGPT(cfg).eval()
    torch.nn.init.normal_(model.head.weight, std=0.5)  # peaky logits: sampling is not uniform
    return model


def _tokens(model: BitsGPT, b: int = 2) -> torch.Tensor:
    n = model.cfg.n_tokens
    return torch.randint(0, model.cfg.vocab, (b, n), generator=torch.Generator().manual_seed(3))


@torch.no_grad()
def test_cached_decode_gives_the_uncached_logits() -> None:
    model = tiny()
    ids, x = tok()(PROMPTS), _tokens(tiny())  # prompts of different lengths: padding differs
    full = model(ids, x)  # [B,n,V], [B,n-1,V]
    cache, h = model.prefill(ids)
    steps = [model.logits(h)]
    mtp = [model.logits(model.mtp[0](h, model.token_embedding(x[:, :1])[:, 0]))]
    n = model.cfg.n_tokens
    for i in range(n - 1):
        h = model.decode(cache, x[:, i : i + 1])
        steps.append(model.logits(h))
        if i < n - 2:
            e = model.token_embedding(x[:, i + 1 : i + 2])[:, 0]  # [B,d]
            mtp.append(model.logits(model.mtp[0](h, e)))
    assert torch.allclose(torch.stack(steps, 1), full[0], atol=1e-5)
    assert torch.allclose(torch.stack(mtp, 1), full[1], atol=1e-5)
    assert cache.length == model.cfg.seq_len


@torch.no_grad()
def test_decode_in_chunks_of_two_matches_too() -> None:
    model = tiny()
    ids, x = tok()(PROMPTS), _tokens(model)
    full = model(ids, x)[0]  # [B,n,V]
    cache, _ = model.prefill(ids)
    for i in range(0, model.cfg.n_tokens - 2, 2):
        h = model.decode(cache, x[:, i : i + 2])
        assert torch.allclose(model.logits(h), full[:, i + 2], atol=1e-5)


@torch.no_grad()
def test_padding_is_masked_and_attention_is_causal() -> None:
    model = tiny()
    ids, x = tok()(PROMPTS), _tokens(model)
    both = model(ids, x)[0]
    alone = model(ids[:1], x[:1])[0]
    assert torch.allclose(both[:1], alone, atol=1e-5)  # a batch neighbour changes nothing
    y = x.clone()
    y[:, 10] = (y[:, 10] + 1) % model.cfg.vocab
    changed = model(ids, y)[0]
    assert torch.allclose(changed[:, :11], both[:, :11], atol=1e-6)  # 10 feeds position 11+
    assert not torch.allclose(changed[:, 11:], both[:, 11:])
    m = attention_mask(torch.tensor([[True, False, True, True]]), 2, 2)
    assert m[0, 0].tolist() == [[True, False, True, False], [True, False, True, True]]


def test_loss_backpropagates_into_every_part() -> None:
    model = tiny().train()
    loss, parts = model.loss(tok()(PROMPTS), _tokens(model))
    loss.backward()
    assert set(parts) == {"ce0", "ce1"}
    for name in ("text.tok.weight", "tok_in.weight", "head.weight", "mtp.0.mix.weight", "pos"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name


@pytest.mark.parametrize("per_step", [1, 2])
def test_cached_and_uncached_sampling_agree(per_step: int) -> None:
    model, t = tiny(), tok()
    opts = DecodeOptions(guidance=3.0, tokens_per_step=per_step)

    def run(use_cache: bool, seed: int = 7) -> torch.Tensor:
        return generate(model, t(PROMPTS[:1]), t.null_ids(1),
                        [torch.Generator().manual_seed(seed)], opts, use_cache=use_cache)

    cached = run(True)
    assert cached.shape == (1, 16) and int(cached.max()) < model.cfg.vocab
    assert torch.equal(cached, run(False))
    assert torch.equal(cached, run(True))  # same seed, same tokens
    assert not torch.equal(cached, run(True, seed=8))


def test_steps_callback_counts_tokens_per_step() -> None:
    model, t = tiny(), tok()
    seen: list[int] = []
    generate(model, t(PROMPTS[:1]), t.null_ids(1), [torch.Generator().manual_seed(0)],
             DecodeOptions(tokens_per_step=2), on_tokens=lambda n, _: seen.append(n))
    assert seen == list(range(2, 17, 2))


def test_no_guidance_runs_only_the_cond_rows() -> None:
    model, t = tiny(), tok()
    rows: list[int] = []
    hook = model.blocks[0].register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0]))
    generate(model, t(PROMPTS[:1]), t.null_ids(1), [torch.Generator().manual_seed(0)],
             DecodeOptions(guidance=None))
    hook.remove()
    assert set(rows) == {1}
    rows.clear()
    hook = model.blocks[0].register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0]))
    generate(model, t(PROMPTS[:1]), t.null_ids(1), [torch.Generator().manual_seed(0)],
             DecodeOptions(guidance=2.0))
    hook.remove()
    assert set(rows) == {2}  # cond + uncond in one batch of 2


def test_cfg_mix_schedule_and_top_k() -> None:
    logits = torch.tensor([[1.0, 3.0], [0.0, 1.0]])  # cond row, uncond row
    assert torch.allclose(guided_logits(logits, 1, 2.0), torch.tensor([[2.0, 5.0]]))
    assert guided_logits(logits[:1], 1, None) is not None
    lin = DecodeOptions(guidance=4.0, schedule="linear")
    assert guidance_at(lin, 0, 64) == 1.0 and guidance_at(lin, 63, 64) == 4.0
    peaked = torch.tensor([[0.0, 5.0, 4.9, -1.0]])
    gens = [torch.Generator().manual_seed(i) for i in range(1)]
    assert [int(sample_ids(peaked, gens, 1.0, top_k=1)[0]) for _ in range(5)] == [1] * 5
    assert int(sample_ids(peaked, gens, 0.0, top_k=0)[0]) == 1  # temperature 0: greedy


def test_small_config_size() -> None:
    cfg = replace(GPT_CONFIGS["small"], text=replace(GPT_CONFIGS["small"].text, vocab_size=256))
    n = sum(p.numel() for p in BitsGPT(cfg).parameters())
    assert cfg.vocab == 4096 and cfg.seq_len == 24 + 64
    assert 6_500_000 < n < 7_500_000  # docs/pico-bits.md quotes the measured count
