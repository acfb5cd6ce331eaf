"""Decode loops for BitsGPT: KV-cached (prefill + k tokens per step) and uncached (reference).

Classifier-free guidance runs cond and uncond rows in one batch of 2B and mixes the *logits*:
``u + w (c - u)`` (LlamaGen ``generate.py``); with ``schedule="linear"`` the scale ramps from 1
at the first token to w at the last (BitDance's token-index ramp), which lets the early,
layout-defining tokens stay diverse. Sampling: temperature, optional top-k, then one
``torch.multinomial`` draw per image from that image's own ``torch.Generator``, so an image's
tokens depend only on its prompt and seed. Temperature 0 is greedy.

Both loops return the same tokens for the same generators (the cache changes the cost, not
the maths); ``benchmarks/bits_kv_cache.py`` times them side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from triptych.nets.gpt import BitsGPT

# on_tokens(tokens_done, tokens so far [B, tokens_done])
TokensCallback = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class DecodeOptions:
    guidance: float | None = 3.0  # None or 1.0: no uncond rows at all (half the cost)
    temperature: float = 1.0
    top_k: int = 0  # 0 = full softmax
    tokens_per_step: int = 1  # <= model.cfg.n_predict; 2 -> 32 trunk passes per image
    schedule: str = "constant"  # or "linear" (CFG ramps over the token index)


def guidance_at(opts: DecodeOptions, index: int, total: int) -> float:
    w = float(opts.guidance)
    if opts.schedule == "linear":
        return 1.0 + (w - 1.0) * index / max(1, total - 1)
    return w


def guided_logits(logits: torch.Tensor, batch: int, w: float | None) -> torch.Tensor:
    """[2B,V] (cond rows then uncond rows) -> [B,V]; [B,V] passes through without CFG."""
    if logits.shape[0] == batch:
        return logits
    cond, uncond = logits[:batch], logits[batch:]
    return uncond + w * (cond - uncond)


def sample_ids(logits: torch.Tensor, generators: Sequence[torch.Generator], temperature: float,
               top_k: int) -> torch.Tensor:
    """logits [B,V] -> ids [B] (one draw per row from that row's generator)."""
    logits = logits.float().cpu()  # CPU generators; 4096 floats per row is nothing to move
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # [B,1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)  # [B,V]
    return torch.cat([torch.multinomial(probs[i], 1, generator=g)
                      for i, g in enumerate(generators)])


@torch.inference_mode()
def generate(
    model: BitsGPT,
    text_ids: torch.Tensor,
    null_ids: torch.Tensor,
    generators: Sequence[torch.Generator],
    opts: DecodeOptions = DecodeOptions(),
    *,
    use_cache: bool = True,
    on_tokens: TokensCallback | None = None,
    alive: list[bool] | None = None,
) -> torch.Tensor:
    """Prompt ids [B,L] (+ the [NULL] prompt ids [B,L]) -> image token ids [B,64], raster
    order. ``on_tokens`` is called after every AR step. ``alive`` (one flag per image, owned
    by the caller): an image whose flag turns False leaves the batch before the next step
    (its cache rows are dropped) and comes back with the tokens it had; ``on_tokens`` then
    sees all B rows, a left row's frozen."""
    cfg = model.cfg
    b, n_total = text_ids.shape[0], cfg.n_tokens
    device = model.tok_in.weight.device
    k_max = max(1, min(opts.tokens_per_step, cfg.n_predict))
    use_cfg = opts.guidance is not None and opts.guidance != 1.0
    rows = torch.cat([text_ids, null_ids]) if use_cfg else text_ids  # [R,L], R = 2B or B
    rows = rows.to(device)
    reps = 2 if use_cfg else 1

    if use_cache:
        cache, h = model.prefill(rows)  # h [R,d]
    else:
        h = model.hidden(rows, rows.new_zeros(rows.shape[0], 0))[:, -1]
    tokens = torch.zeros(b, 0, dtype=torch.long)  # [B,n], CPU
    live = list(range(b))  # the caller's images still sampled, in order
    out = torch.zeros(b, n_total, dtype=torch.long) if alive is not None else None
    while tokens.shape[1] < n_total:
        if alive is not None and not all(alive[r] for r in live):
            keep = [j for j, r in enumerate(live) if alive[r]]
            live = [live[j] for j in keep]
            if not live:
                return out
            pick = torch.tensor(keep)
            both = torch.cat([pick, pick + b]) if use_cfg else pick  # cond rows, uncond rows
            tokens, generators = tokens[pick], [generators[j] for j in keep]
            h = h[both.to(device)]
            if use_cache:
                cache.k = [kk[both.to(device)] for kk in cache.k]
                cache.v = [vv[both.to(device)] for vv in cache.v]
                cache.valid = cache.valid[both.to(device)]
            else:
                rows = rows[both.to(device)]
            b = len(live)
        k = min(k_max, n_total - tokens.shape[1])
        new: list[torch.Tensor] = []
        hj = h
        for j in range(k):
            if j > 0:  # MTP head j: previous hidden + the token just sampled
                prev = new[-1].to(device).repeat(reps)  # [R]
                hj = model.mtp[j - 1](hj, model.token_embedding(prev[:, None])[:, 0])
            w = guidance_at(opts, tokens.shape[1] + j, n_total) if use_cfg else None
            logits = guided_logits(model.logits(hj), b, w)  # [B,V]
            new.append(sample_ids(logits, generators, opts.temperature, opts.top_k))
        step = torch.stack(new, 1)  # [B,k]
        tokens = torch.cat([tokens, step], 1)
        if out is not None:
            out[live, : tokens.shape[1]] = tokens
        if on_tokens is not None:
            on_tokens(tokens.shape[1], tokens if out is None else out[:, : tokens.shape[1]])
        if tokens.shape[1] < n_total:
            if use_cache:
                h = model.decode(cache, step.to(device).repeat(reps, 1))  # [R,d]
            else:
                h = model.hidden(rows, tokens.to(device).repeat(reps, 1))[:, -1]
    return tokens if out is None else out
