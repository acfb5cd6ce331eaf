"""BitsPipeline: per-image seeds (independent of n and neighbours), canvas previews that fill
in raster order, steps -> tokens per step, cache on/off agree, and checkpoint loading."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from triptych.autoregressive.pipeline import (
    BitsBundle,
    BitsPipeline,
    BitsSampling,
    load_bits,
    load_bits_pipeline,
    save_bits,
)
from triptych.nets import bits_tokenizer as bt
from triptych.nets.bits_tokenizer import TOKENIZER_CONFIGS, BitsTokenizer
from triptych.nets.checkpoint import CheckpointError
from triptych.nets.gpt import GPT_CONFIGS, BitsGPT
from triptych.nets.text_encoder import Tokenizer

PROMPTS = ["a red circle", "two cats", "a dog to the left of a cat"]


def _pipe(guidance: float | None = 3.0) -> BitsPipeline:
    torch.manual_seed(0)
    words = Tokenizer.build(PROMPTS, max_len=12)
    cfg = GPT_CONFIGS["tiny"]
    cfg = replace(cfg, text=replace(cfg.text, vocab_size=len(words), max_len=12))
    model = BitsGPT(cfg).eval()
    torch.nn.init.normal_(model.head.weight, std=0.5)
    tok = BitsTokenizer(TOKENIZER_CONFIGS["tiny"]).eval()
    return BitsPipeline(BitsBundle(model, words, BitsSampling(guidance=guidance)), tok)


def test_same_seed_same_image_whatever_n() -> None:
    pipe = _pipe()
    batch = pipe(PROMPTS, [10, 11, 12])
    single = pipe([PROMPTS[1]], [11])
    assert batch.shape == (3, 3, 64, 64)
    assert torch.equal(batch[1:2], single)  # exact: each image decodes on its own
    assert not torch.equal(pipe([PROMPTS[1]], [13]), single)


def test_cache_changes_cost_not_pixels() -> None:
    pipe = _pipe()
    assert torch.equal(pipe(PROMPTS[:1], [3], use_cache=False), pipe(PROMPTS[:1], [3]))


def test_preview_canvas_fills_in_raster_order() -> None:
    pipe = _pipe()
    seen: list[tuple[float, torch.Tensor]] = []
    final = pipe(PROMPTS[:1], [0], on_preview=lambda f, img: seen.append((f, img.clone())),
                 preview_every=8)
    assert [round(f * 64) for f, _ in seen] == [1, 9, 17, 25, 33, 41, 49, 57]  # never the last
    for frac, img in seen:
        assert img.shape == (1, 3, 64, 64)
        cells = img[0].unfold(1, 8, 8).unfold(2, 8, 8)  # [3,8,8,8,8]: channel, row, col, ...
        blank = cells.abs().amax(dim=(0, 3, 4)).flatten() == 0  # [64] raster order
        done = round(frac * 64)
        assert blank[done:].all() and not blank[:done].any()
    assert final.abs().amax(dim=(1, 2, 3)).min() > 0


def test_steps_choose_tokens_per_step() -> None:
    pipe = _pipe()
    assert pipe.tokens_per_step(None) == 1 and pipe.effective_steps(None) == 64
    assert pipe.tokens_per_step(32) == 2 and pipe.effective_steps(32) == 32
    assert pipe.effective_steps(8) == 32  # capped by the model's n_predict = 2
    fractions: list[float] = []
    pipe(PROMPTS[:1], [0], steps=32, on_preview=lambda f, _: fractions.append(f),
         preview_every=8)
    assert [round(f * 64) for f in fractions] == [2, 18, 34, 50]


def test_bf16_decoding_is_seeded_too() -> None:
    pipe = _pipe()
    fast = BitsPipeline(pipe.bundle, pipe.tok, dtype=torch.bfloat16)
    assert fast.bundle.model.head.weight.dtype == torch.bfloat16
    a, b = fast(PROMPTS[:1], [4]), fast(PROMPTS[:1], [4])
    assert a.dtype == torch.float32 and torch.equal(a, b)


def test_guidance_none_and_override() -> None:
    pipe = _pipe(guidance=None)
    assert pipe.options(None, "default").guidance is None
    assert pipe.options(None, 2.5).guidance == 2.5
    assert pipe(PROMPTS[:1], [0]).shape == (1, 3, 64, 64)


def test_checkpoint_load_and_errors(tmp_path) -> None:
    pipe = _pipe()
    tok_path = bt.save(pipe.tok, tmp_path / "bits-tokenizer.safetensors")
    model_path = tmp_path / "pico-bits.safetensors"
    b = pipe.bundle
    save_bits(model_path, b.model, b.model.cfg, b.tokenizer, b.sampling,
              {"tokenizer_fingerprint": bt.fingerprint(bt.load(tok_path))})
    loaded = load_bits_pipeline(model_path, tok_path)
    assert loaded.bundle.tokenizer.vocab == b.tokenizer.vocab
    assert loaded.bundle.sampling == b.sampling and not loaded.bundle.model.training
    assert loaded(PROMPTS[:1], [0]).shape == (1, 3, 64, 64)
    with pytest.raises(CheckpointError, match="missing.safetensors not found"):
        load_bits(tmp_path / "missing.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(model_path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="cut.safetensors is corrupt"):
        load_bits_pipeline(tmp_path / "cut.safetensors", tok_path)
    other = bt.save(BitsTokenizer(TOKENIZER_CONFIGS["tiny"]), tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="different bits tokenizer"):
        load_bits_pipeline(model_path, other)


def test_bf16_only_where_the_cpu_multiplies_it_natively() -> None:
    from triptych.autoregressive.pipeline import fast_dtype

    plain = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni\n"
    assert fast_dtype(plain) == torch.float32  # AVX-512 alone: bf16 would be emulated
    assert fast_dtype(plain.replace("avx512_vnni", "avx512_vnni avx512_bf16")) == torch.bfloat16
    assert fast_dtype(plain.replace("avx2", "avx2 amx_bf16 amx_tile")) == torch.bfloat16
    assert fast_dtype("") == torch.float32


def test_trainers_autocast_to_bf16_only_on_native_bf16(monkeypatch) -> None:
    from triptych.training import loop

    for native in (False, True):
        monkeypatch.setattr(loop, "native_bf16", lambda n=native: n)
        assert loop.use_bf16(None, torch.device("cpu")) is native  # auto: where it pays
        assert loop.use_bf16(False, torch.device("cpu")) is False


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_batch_of_requests_samples_together_and_drops_a_cancelled_one(use_cache) -> None:
    pipe = _pipe()
    alone = torch.cat([pipe([p], [20 + i]) for i, p in enumerate(PROMPTS)])
    alive = [True, True, True]
    seen: list[tuple[float, int]] = []

    def on_preview(fraction, canvas):  # noqa: ANN001, ANN202
        seen.append((fraction, canvas.shape[0]))
        if fraction >= 0.25:
            alive[1] = False  # the second request is cancelled

    together = pipe(PROMPTS, [20, 21, 22], on_preview=on_preview, preview_every=4,
                    alive=alive, use_cache=use_cache)
    assert torch.allclose(together[[0, 2]], alone[[0, 2]], atol=1e-5)
    assert not together[1].any()  # the dropped one comes back black
    assert all(rows == 3 for _, rows in seen) and seen == sorted(seen)
    assert torch.allclose(pipe(PROMPTS, [20, 21, 22], alive=[True] * 3, use_cache=use_cache),
                          alone, atol=1e-5)
