"""Train pico-bits: BitsGPT over the bits tokenizer's 8x8 binary tokens, text as a prefix.

Data: world pairs rendered once and turned into token ids by the (frozen) bits tokenizer,
cached in ``runs/data/`` (int16 [N,64], keyed by seed, N and the tokenizer's fingerprint), so
the loop reads only tensors. Each step: teacher-forced cross-entropy on the 64 image tokens
(plus the multi-token head, weight ``mtp_weight``); 10 % of prompts become the [NULL] prompt
(CFG). AdamW, warm-up + cosine, grad clip 1.0, EMA 0.999; bf16 autocast for the transformer
where it pays (CUDA, or a CPU with AVX-512). The EMA weights are exported at every checkpoint
(every ``checkpoint_every`` steps or ``checkpoint_minutes``), so a usable model exists long
before the run ends. The loop (``training/loop.py``) draws step k's batch and dropout from CPU
generators seeded with (seed, k): ``device="cuda"`` changes speed, not the data order, and a
resumed run continues exactly.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.autoregressive.pipeline import (
    CHECKPOINT_NAME,
    BitsBundle,
    BitsPipeline,
    BitsSampling,
    load_bits,
    save_bits,
    trained_on,
)
from triptych.nets import bits_tokenizer as bt
from triptych.nets.bits_tokenizer import BitsTokenizer
from triptych.nets.checkpoint import weights_path
from triptych.nets.gpt import GPT_CONFIGS, BitsGPT, GPTConfig
from triptych.training import data, loop
from triptych.training.common import (
    RunState,
    adamw,
    command_flags,
    count_params,
    cpu_copy,
    machine_summary,
    md_table,
    save_grid,
    seed_everything,
    to_device,
    with_overrides,
    write_card,
)
from triptych.training.pico_diffusion import run_tokenizer, trained_steps

NAME = CHECKPOINT_NAME


@dataclass(frozen=True)
class BitsTrainConfig:
    size: str = "small"  # key of GPT_CONFIGS
    steps: int = 2725  # the shipped schedule (~1.7 s/step in bf16 on 1 busy thread: ~78 min)
    batch: int = 64
    lr: float = 6e-4  # between the recipes' 3e-4 and nanoGPT-baby 1e-3
    betas: tuple[float, float] = (0.9, 0.95)  # recipes: beta2 0.95-0.99 for GPTs
    warmup: int = 200
    weight_decay: float = 0.0
    ema: float = 0.999
    cfg_dropout: float = 0.1  # learned null prompt, as DiT/VAR/BitDance
    mtp_weight: float = 0.5  # loss weight of the extra (multi-token) heads
    pairs: int = 50000  # cached pairs: 6 MB of int16 ids; ~3.5 epochs at 2725 x 64
    val_pairs: int = 1024  # fresh pairs for the held-out token loss in the card
    amp: bool = True  # bf16 autocast (CUDA, or CPU with AVX-512: ~1.45x for transformers)
    checkpoint_every: int = 250
    checkpoint_minutes: float = 5.0
    log_every: int = 25
    preview_every: int = 1000
    # sampling defaults written into the checkpoint; on the tuning set (prompt seed 777) for
    # the shipped tokenizer and GPT, w 1 / 1.5 / 1.75 / 2 / 2.5 / 3 scored 0.719 /
    # 0.800 / 0.797 / 0.794 / 0.793 / 0.777 with KID 0.15 / 0.11 / 0.16 / 0.25 / 0.39 / 0.48
    guidance: float = 1.75
    temperature: float = 0.8  # 0.333 vs 0.290 at 1.0 on a 42-prompt tuning set (prompt seed 777)
    top_k: int = 0


TINY = BitsTrainConfig(size="tiny", steps=4, batch=4, warmup=2, pairs=64, val_pairs=16,
                       amp=False, checkpoint_every=2, log_every=1, preview_every=0)


def build_model(size: str, bits: int, vocab_size: int, max_len: int) -> BitsGPT:
    cfg = GPT_CONFIGS[size]
    cfg = replace(cfg, bits=bits,
                  text=replace(cfg.text, vocab_size=vocab_size, max_len=max_len))
    return BitsGPT(cfg)


TOKEN_CHUNK = 1024  # renders per cache chunk; chunk k is rendered with stream_seed(seed, k)
VAL_SEED_OFFSET = 101  # the held-out token loss uses renders of seed + 101


def token_cache_path(tok: BitsTokenizer, n: int, seed: int, split: str = "train") -> Path:
    """Where ``token_cache`` keeps (seed, n, split) for this tokenizer's token space."""
    return data.DATA_DIR / f"bits_{split}_s{seed}_n{n}_{bt.fingerprint(tok)}.pt"


@torch.no_grad()
def token_cache(tok: BitsTokenizer, *, n: int, seed: int, split: str = "train",
                device: torch.device = torch.device("cpu"), chunk: int = TOKEN_CHUNK,
                path: Path | None = None, log=print) -> dict[str, Any]:
    """Render ``n`` pairs, tokenise them once, cache to ``runs/data`` (reused when present).

    Returns ``{"ids": int16 [N,64], "captions": [str]}``.
    """
    path = path or token_cache_path(tok, n, seed, split)
    if path.is_file():
        return torch.load(path, weights_only=False)
    ids, captions = [], []
    tok = tok.to(device)
    for k, start in enumerate(range(0, n, chunk)):
        images, caps, _ = data.render(min(chunk, n - start), data.stream_seed(seed, k), split)
        ids.append(torch.cat([tok.encode(images[i : i + 256].to(device)).cpu()
                              for i in range(0, len(images), 256)]).to(torch.int16))
        captions += caps
        log(f"tokenised {start + len(caps)}/{n} renders")
    tok.cpu()
    out = {"ids": torch.cat(ids), "captions": captions}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def _init_bundle(init: Path, tok: BitsTokenizer) -> BitsBundle:
    """The pico-bits to continue; ValueError unless it predicts this tokenizer's ids."""
    bundle = load_bits(init)
    if not trained_on(bundle, tok):
        raise ValueError(f"--init {init}: it was trained on another bits tokenizer "
                         f"({bundle.meta.get('tokenizer_fingerprint')}, not "
                         f"{bt.fingerprint(tok)}); start afresh for this one")
    return bundle


@torch.no_grad()
def validation_loss(model: BitsGPT, text_ids: torch.Tensor, tokens: torch.Tensor,
                    device: torch.device, batch: int = 256) -> float:
    """Mean next-token cross-entropy (nats, head 0) on held-out pairs."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(tokens), batch):
        t, x = text_ids[i : i + batch].to(device), tokens[i : i + batch].to(device)
        logits = model(t, x)[0].float()  # [b,64,V]
        total += float(torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), x.flatten(), reduction="sum"))
        count += x.numel()
    return total / max(1, count)


def train_pico_bits(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    tokenizer_path: Path | None = None,
    pairs: int | None = None,
    batch: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    max_minutes: float | None = None,
    overrides: dict[str, Any] | None = None,
    init: Path | None = None,
    lr: float | None = None,
    log=print,
) -> dict[str, Any]:
    """``overrides``: any other ``BitsTrainConfig`` field (a GPU run's lr, checkpoint and
    preview cadence). ``init``: continue this trained pico-bits (its weights, architecture and
    vocabulary; a fresh optimiser and schedule); it must have learnt this tokenizer's ids."""
    cfg = with_overrides(TINY if tiny else BitsTrainConfig(), overrides, steps=steps,
                         pairs=pairs, batch=batch, lr=lr)
    paths = loop.prepare(NAME, NAME, out=out, run_dir=run_dir, tiny=tiny, threads=threads,
                         device=device)
    out, run_dir, dev = paths.out, paths.run_dir, paths.device
    seed_everything(seed)

    tok_path = Path(tokenizer_path) if tokenizer_path else weights_path(bt.CHECKPOINT_NAME)
    bits_tok = bt.load(tok_path)  # CheckpointError names the file if it is missing
    tok_fp = bt.fingerprint(bits_tok)
    export = run_dir / f"{NAME}.safetensors"
    start = _init_bundle(init, bits_tok) if init is not None else None
    if resume and loop.has_state(run_dir) and export.is_file():
        words = run_tokenizer(export)  # a resumed run keeps its vocabulary
    elif start is not None:
        words = start.tokenizer  # its text encoder learnt these word ids
    else:
        words = data.build_tokenizer(seed, n_captions=200 if tiny else 20000)
    cache = token_cache(bits_tok, n=cfg.pairs, seed=seed, device=dev, log=log,
                        path=(run_dir / "cache.pt") if tiny else None)
    val = token_cache(bits_tok, n=cfg.val_pairs, seed=seed + VAL_SEED_OFFSET, device=dev, log=log,
                      path=(run_dir / "val.pt") if tiny else None)
    tokens = cache["ids"].long()  # [N,64]
    text_ids = words(cache["captions"])  # [N,L]; re-tokenised: the vocab may differ
    null_ids = words.null_ids(1)  # [1,L]

    if start is not None:
        model = start.model.float().train().requires_grad_(True).to(dev)
    else:
        model = build_model(cfg.size, bits_tok.bits, len(words), words.max_len).to(dev)
    opt = adamw(model.parameters(), dev, lr=cfg.lr, betas=cfg.betas,
                weight_decay=cfg.weight_decay)
    sampling = BitsSampling(guidance=cfg.guidance, temperature=cfg.temperature, top_k=cfg.top_k)
    meta = {"tokenizer_fingerprint": tok_fp, "tokenizer_file": tok_path.name}
    order = loop.BatchOrder(len(tokens), cfg.batch, seed)

    def loss(step: int, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        idx = order(step)
        drop = torch.rand(len(idx), generator=gen) < cfg.cfg_dropout  # [B]
        cond = torch.where(drop[:, None], null_ids, text_ids[idx])  # [B,L]
        cond, target = to_device(dev, cond, tokens[idx])
        return model.loss(cond, target, cfg.mtp_weight)

    def export_run(net: torch.nn.Module, state: RunState) -> None:
        save_bits(export, net, model.cfg, words, sampling,
                  {**meta, "train": {"steps": state.step, "wall_s": round(state.wall_s, 1)}})

    def preview(net: torch.nn.Module, path: Path) -> None:
        save_grid(BitsPipeline(BitsBundle(net, words, sampling), bits_tok), path)

    model.train()
    outcome = loop.train(
        loop.Job(NAME, model, opt, loss, seed=seed, export=export_run, preview=preview,
                 bf16=loop.use_bf16(None if cfg.amp else False, dev)),
        loop.Schedule.of(cfg, max_minutes=max_minutes), run_dir=run_dir, resume=resume,
        log=log)
    state = outcome.state
    ema_model = outcome.weights
    val_ce = validation_loss(ema_model, words(val["captions"]), val["ids"].long(), dev)
    summary = {
        "steps": state.step, "wall_s": round(state.wall_s, 1),
        "params": count_params(model), "params_text": count_params(model.text),
        "params_mtp": count_params(model.mtp), "vocab_words": len(words),
        "bits": bits_tok.bits, "pairs": len(tokens), "threads": paths.threads,
        "device": str(dev), "final_train_ce": outcome.last.get("ce0"), "val_ce": round(val_ce, 4),
        "init": str(init) if init else None, "init_steps": trained_steps(start),
    }
    cfg = replace(cfg, steps=outcome.total)  # the schedule that ran (a fitted --max-minutes)
    save_bits(out, cpu_copy(ema_model), model.cfg, words, sampling,
              {**meta, "train": summary, "train_config": asdict(cfg), "seed": seed})
    write_bits_card(out.with_suffix(".md"), model.cfg, cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary


def write_bits_card(path: Path, g: GPTConfig, cfg: BitsTrainConfig, summary: dict,
                    seed: int) -> None:
    tiny = " --tiny" if cfg.size == "tiny" else ""
    command = f"triptych train {NAME} --seed {seed} --steps {cfg.steps}{tiny}"
    command += command_flags(cfg, TINY if tiny else BitsTrainConfig(),  # beyond the recipe
                             {"batch": "--batch", "pairs": "--pairs", "lr": "--lr"},
                             summary.get("device", "cpu"))
    if summary.get("init"):
        command += " --init <the pico-bits it continued> --tokenizer <its bits tokenizer>"
    write_card(path, f"{NAME} (autoregressive over binary tokens, KV cache, CFG)", {
        "Architecture": (
            f"Decoder-only GPT (pre-LN, causal self-attention, GELU MLP {g.mlp_ratio}x): d "
            f"{g.d}, {g.layers} layers, {g.heads} heads, learned absolute positions. Sequence: "
            f"{g.prefix_len} text-prefix states (word tokenizer, {summary['vocab_words']} "
            f"tokens, + a {g.text.layers}-layer bidirectional text encoder of width "
            f"{g.text.dim}, projected to {g.d}; padding masked) + BOS + the 8x8 image tokens "
            f"in raster order. Image tokens are {g.bits}-bit LFQ codes from "
            f"`bits-tokenizer.safetensors`: embedded from their +-1 bits by one linear map, "
            f"predicted as one softmax over {2 ** g.bits} ids. {g.n_predict - 1} extra "
            f"multi-token head(s) (MTP style: previous head's state + the token it chose) "
            f"allow {g.n_predict} tokens per decode step.\n\nParameters: "
            f"{summary['params']:,} (text encoder {summary['params_text']:,}, multi-token "
            f"heads {summary['params_mtp']:,}). Stored as fp16 safetensors with config, "
            "vocabulary, sampling defaults and the tokenizer's fingerprint in its metadata."),
        "Objective and sampling": (
            f"Teacher-forced cross-entropy on the 64 image tokens (+ {cfg.mtp_weight} x the "
            f"extra heads'). CFG: {int(cfg.cfg_dropout * 100)} % of prompts replaced by [NULL] "
            f"in training; sampling runs cond and uncond rows in one batch of 2 with a KV "
            f"cache and mixes logits u + w (c - u), w = {cfg.guidance}, temperature "
            f"{cfg.temperature}, top-k {cfg.top_k or 'off'}. Image i of a request samples "
            "with `torch.Generator().manual_seed(seed + i)`."),
        "Data": (
            f"{summary['pairs']:,} procedural world pairs (train split), rendered with seed "
            f"{seed} and tokenised once (`runs/data/`)."),
        "Training": md_table({
            "steps": summary["steps"], "batch": cfg.batch,
            "optimiser": f"AdamW lr {cfg.lr}, betas {cfg.betas}, wd {cfg.weight_decay}, "
                         f"{cfg.warmup} warm-up, cosine to 10 %, grad clip 1.0",
            "EMA": cfg.ema, "bf16 autocast": cfg.amp, "seed": seed,
            "device": summary["device"],
            "wall time": f"{summary['wall_s'] / 60:.1f} min ({machine_summary()})",
            "final training CE (head 0, nats/token)": summary.get("final_train_ce"),
            "held-out CE (EMA, nats/token)": summary.get("val_ce"),
        }),
        "Metrics": "Not measured by the trainer; see docs/pico-bits.md for `triptych eval`.",
        "Reproduce": f"```\ntriptych train bits-tokenizer --seed 0\n{command}\n```\n\n"
                     f"Add `--device cuda` on a GPU. Resumable: the run state lives in "
                     f"`runs/{NAME}/state.pt`; rerunning the command continues it "
                     "(`--no-resume` starts over).",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })
