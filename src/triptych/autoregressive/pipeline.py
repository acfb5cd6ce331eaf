"""Text -> image for pico-bits: word tokenizer + BitsGPT (KV-cached AR decode) + bits tokenizer.

Call interface as ``diffusion.pipeline.PicoPipeline.__call__``::

    pipe(prompts, seeds, steps=None, guidance="default", on_preview=None, preview_every=4)
        -> images [B,3,64,64] in [-1,1]

* ``steps`` = autoregressive steps. 64 = one token per step; fewer steps take
  ``ceil(64 / steps)`` tokens per step through the multi-token head (at most
  ``n_predict``; 32 steps with the shipped config). ``effective_steps`` says what ran.
* Seeds: image i samples with ``torch.Generator().manual_seed(seeds[i])`` and is decoded on
  its own (batch 1, cond + uncond rows), so its pixels never depend on ``n`` or its
  neighbours: with discrete sampling, batch-size-dependent rounding could flip a token. A
  batch of several requests (``alive``, the engine's ``generate_batch``) samples its rows in
  one decode loop, each from its own generator: on the CPU kernels we test (fp32 and bf16) a
  row's logits are the same at every batch size, so its tokens are too
  (``tests/engines/builtin``).
* Previews: ``on_preview(fraction, canvas [1,3,64,64])`` every ``preview_every`` AR steps
  (never after the last): the tokens drawn so far, decoded, with the cells still to come
  painted mid-grey, so the canvas fills top-left to bottom-right. ``fraction`` counts over the
  whole call ((i + tokens_done / 64) / n).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from triptych.autoregressive.sampling import DecodeOptions, generate
from triptych.cpu_features import native_bf16
from triptych.nets import bits_tokenizer as bt
from triptych.nets.bits_tokenizer import GRID, BitsTokenizer
from triptych.nets.checkpoint import (
    CheckpointError,
    load_into,
    read_checkpoint,
    save_conditioned,
)
from triptych.nets.gpt import BitsGPT, GPTConfig
from triptych.nets.lfq import codes_from_ids
from triptych.nets.text_encoder import TextConfig, Tokenizer

CHECKPOINT_NAME = "pico-bits"
CELL = 64 // GRID  # pixels per token cell (8)

# on_preview(fraction_done, canvas [1,3,64,64] in [-1,1])
PreviewCallback = Callable[[float, torch.Tensor], None]


@dataclass
class BitsSampling:
    steps: int = 64  # AR steps (64 tokens / tokens per step)
    guidance: float | None = 3.0  # CFG on logits; recipes: 1.5 (fidelity) .. 5 (looks)
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    schedule: str = "constant"  # "linear": CFG ramps over the token index (BitDance)


@dataclass
class BitsBundle:
    """Everything needed to sample tokens: the network, its word tokenizer, defaults."""

    model: BitsGPT
    tokenizer: Tokenizer
    sampling: BitsSampling = field(default_factory=BitsSampling)
    meta: dict[str, Any] = field(default_factory=dict)


def config_from_dict(data: dict[str, Any]) -> GPTConfig:
    data = dict(data)
    data["text"] = TextConfig(**data.get("text", {}))
    return GPTConfig(**data)


def save_bits(path: Path | str, model: nn.Module, cfg: GPTConfig, tokenizer: Tokenizer,
              sampling: BitsSampling, extra: dict[str, Any] | None = None) -> Path:
    return save_conditioned(path, model, cfg, tokenizer, sampling, extra)


def load_bits(path: Path | str) -> BitsBundle:
    """A pico-bits checkpoint -> bundle; ``CheckpointError`` names the file on any problem."""
    tensors, meta = read_checkpoint(path)
    try:
        cfg = config_from_dict(meta["config"])
        tokenizer = Tokenizer(meta["vocab"], meta["max_len"])
        sampling = BitsSampling(**meta.get("sampling", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"has incomplete metadata ({exc})") from exc
    model = BitsGPT(cfg)
    load_into(model, tensors, path)
    model.eval().requires_grad_(False)
    return BitsBundle(model, tokenizer, sampling, meta)


def trained_on(bundle: BitsBundle, tok: BitsTokenizer) -> bool:
    """Whether ``bundle``'s GPT predicts ``tok``'s ids (same bits, same encoder fingerprint)."""
    want = bundle.meta.get("tokenizer_fingerprint")
    return tok.bits == bundle.model.cfg.bits and not (want and want != bt.fingerprint(tok))


def load_bits_pipeline(model_path: Path | str, tokenizer_path: Path | str,
                       dtype: torch.dtype | None = None) -> BitsPipeline:
    """Both checkpoints -> pipeline. CheckpointError (naming the file) if either is missing or
    corrupt, or if the GPT was trained on a different bits tokenizer. ``dtype``: see
    ``BitsPipeline``."""
    bundle = load_bits(model_path)
    tok = bt.load(tokenizer_path)
    if not trained_on(bundle, tok):
        raise CheckpointError(model_path, f"was trained on a different bits tokenizer than "
                                          f"{tokenizer_path}; retrain it or use the matching one")
    return BitsPipeline(bundle, tok, dtype=dtype)


def fast_dtype(cpuinfo: str | None = None) -> torch.dtype:
    """bf16 where the CPU has native bf16 matmuls (~1.45x faster decode on such a CPU,
    measured), else fp32 (emulated bf16 is slower: ``cpu_features.native_bf16``)."""
    return torch.bfloat16 if native_bf16(cpuinfo) else torch.float32


class BitsPipeline:
    """``dtype`` casts the GPT (in place) for decoding, e.g. ``fast_dtype()``; the default
    keeps the fp32 weights, the reference numerics. The tokenizer decoder stays fp32."""

    def __init__(self, bundle: BitsBundle, tokenizer: BitsTokenizer,
                 dtype: torch.dtype | None = None) -> None:
        self.bundle = bundle
        self.tok = tokenizer
        if dtype is not None:
            bundle.model.to(dtype)

    def tokens_per_step(self, steps: int | None) -> int:
        steps = steps or self.bundle.sampling.steps
        n = self.bundle.model.cfg.n_tokens
        return max(1, min(self.bundle.model.cfg.n_predict, math.ceil(n / max(1, steps))))

    def effective_steps(self, steps: int | None) -> int:
        return math.ceil(self.bundle.model.cfg.n_tokens / self.tokens_per_step(steps))

    def options(self, steps: int | None, guidance: float | None | str) -> DecodeOptions:
        s = self.bundle.sampling
        return DecodeOptions(guidance=s.guidance if guidance == "default" else guidance,
                             temperature=s.temperature, top_k=s.top_k,
                             tokens_per_step=self.tokens_per_step(steps), schedule=s.schedule)

    @torch.inference_mode()
    def tokens(self, prompts: Sequence[str], seeds: Sequence[int], *, steps: int | None = None,
               guidance: float | None | str = "default", use_cache: bool = True,
               on_tokens: Callable[[int, int, torch.Tensor], None] | None = None,
               ) -> torch.Tensor:
        """Prompts + seeds -> token ids [B,64]; image by image (see module docstring).
        ``on_tokens(image_index, tokens_done, tokens [1,n])`` after every AR step."""
        words = self.bundle.tokenizer
        opts = self.options(steps, guidance)
        out = []
        for i, (prompt, seed) in enumerate(zip(prompts, seeds, strict=True)):
            gen = torch.Generator().manual_seed(int(seed))
            cb = None if on_tokens is None else (lambda n, t, i=i: on_tokens(i, n, t))
            out.append(generate(self.bundle.model, words([prompt]), words.null_ids(1), [gen],
                                opts, use_cache=use_cache, on_tokens=cb))
        return torch.cat(out)

    @torch.inference_mode()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids [B,64] -> images [B,3,64,64] in [-1,1]."""
        return self.tok.decode(ids)

    @torch.inference_mode()
    def canvas(self, partial: torch.Tensor) -> torch.Tensor:
        """The first n raster tokens [B,n] -> preview [B,3,64,64]: decoded with the missing
        codes at 0 (between -1 and +1), then the cells still to come painted mid-grey."""
        b, n = partial.shape
        total = GRID * GRID
        codes = torch.zeros(b, total, self.tok.bits)  # [B,64,K]; 0 = "unknown bit"
        codes[:, :n] = codes_from_ids(partial, self.tok.bits)
        grid = codes.view(b, GRID, GRID, -1).permute(0, 3, 1, 2)  # [B,K,8,8]
        image = self.tok.decode_codes(grid)  # [B,3,64,64]
        todo = (torch.arange(total) >= n).float().view(1, 1, GRID, GRID)  # [1,1,8,8]
        todo = todo.repeat_interleave(CELL, 2).repeat_interleave(CELL, 3)  # [1,1,64,64]
        return image * (1 - todo)  # grey (0 in [-1,1]) where no token has been drawn yet

    @torch.inference_mode()
    def __call__(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        steps: int | None = None,
        guidance: float | None | str = "default",
        on_preview: PreviewCallback | None = None,
        preview_every: int = 4,
        use_cache: bool = True,
        alive: list[bool] | None = None,
    ) -> torch.Tensor:
        """Prompts + per-image seeds -> images [B,3,64,64] in [-1,1]. ``alive`` (one flag
        per image): a batch of several requests, sampled as one (each row from its own
        generator: the rows' logits do not depend on the batch on the CPU kernels we test,
        ``tests/engines/builtin``); the caller turns a flag False to drop that image, which
        comes back black. Previews then show every image at once (``fraction``: tokens drawn
        / 64)."""
        if alive is not None:
            return self._batch(prompts, seeds, steps, guidance, on_preview, preview_every,
                               use_cache, alive)
        b = len(prompts)
        total = self.bundle.model.cfg.n_tokens
        per_step = self.tokens_per_step(steps)

        def on_tokens(i: int, n: int, partial: torch.Tensor) -> None:
            step = math.ceil(n / per_step) - 1  # index of the AR step that just finished
            if on_preview is not None and n < total and step % max(1, preview_every) == 0:
                on_preview((i + n / total) / b, self.canvas(partial))

        ids = self.tokens(prompts, seeds, steps=steps, guidance=guidance, use_cache=use_cache,
                          on_tokens=on_tokens)  # [B,64]
        return torch.cat([self.decode(ids[i : i + 1]) for i in range(b)])  # per image, too

    def _batch(self, prompts: Sequence[str], seeds: Sequence[int], steps: int | None,
               guidance: float | None | str, on_preview: PreviewCallback | None,
               preview_every: int, use_cache: bool, alive: list[bool]) -> torch.Tensor:
        words, b = self.bundle.tokenizer, len(prompts)
        total = self.bundle.model.cfg.n_tokens
        per_step = self.tokens_per_step(steps)

        def on_tokens(n: int, partial: torch.Tensor) -> None:  # partial [B,n]
            step = math.ceil(n / per_step) - 1
            if on_preview is not None and n < total and step % max(1, preview_every) == 0:
                live = [r for r, a in enumerate(alive) if a]
                canvas = torch.zeros(b, 3, 64, 64)
                canvas[live] = self.canvas(partial[live])
                on_preview(n / total, canvas)

        ids = generate(self.bundle.model, words(list(prompts)), words.null_ids(b),
                       [torch.Generator().manual_seed(int(s)) for s in seeds],
                       self.options(steps, guidance), use_cache=use_cache,
                       on_tokens=on_tokens, alive=alive)  # [B,64]
        return torch.cat([self.decode(ids[i : i + 1]) if alive[i] else torch.zeros(1, 3, 64, 64)
                          for i in range(b)])  # per image, as alone
