"""Text-to-velocity models with a swappable text front-end, and their self-contained checkpoints.

* ``PicoDiT`` (pico-dit): the learned word-level tokenizer + text encoder of pico-diffusion
  (``triptych.nets.text_encoder``, trained jointly) feeding a DiT.
* ``PicoLM`` (pico-lm): frozen MiniLM states (computed outside the module by ``FrozenLM``) ->
  the trainable ``LMConnector`` -> a backbone: the DiT, or pico-diffusion's latent U-Net
  (recipe (d) allows either; the U-Net can start from pico-diffusion's trained weights, so the
  connector and a fine-tune are all a CPU budget has to pay for).

Both expose ``encode_text(inputs) -> (ctx, mask)`` (slot 0 pooled, see ``triptych.nets.dit``),
``null_context(batch, length)`` (the learned unconditional input for classifier-free guidance)
and ``forward(x, t, inputs=None, *, context=None, drop=None)``, which is the call the Euler/CFG
sampler in ``triptych.diffusion.sampler`` makes. ``drop`` [B] bool swaps rows for the null
context during training (CFG dropout).

A checkpoint is one fp16 safetensors file whose metadata holds ``kind`` ("pico-dit" or
"pico-lm"), the configs, the vocabulary (pico-dit) or the LM's name (pico-lm) and the sampling
defaults, so ``load_transformer(path)`` rebuilds either model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from triptych.nets.checkpoint import CheckpointError, load_into, read_checkpoint, save_checkpoint
from triptych.nets.dit import DiT, DiTConfig
from triptych.nets.lm_connector import LM_NAME, ConnectorConfig, FrozenLM, LMConnector, masked_mean
from triptych.nets.pico import SamplingDefaults, config_from_dict
from triptych.nets.text_encoder import TextConfig, TextEncoder, Tokenizer
from triptych.nets.unet import UNet, UNetConfig

Context = tuple[torch.Tensor, torch.Tensor]  # (ctx [B, L, d_ctx], mask [B, L] bool)
BackboneConfig = DiTConfig | UNetConfig


def backbone_name(cfg: BackboneConfig) -> str:
    return "unet" if isinstance(cfg, UNetConfig) else "dit"


def context_dim(cfg: BackboneConfig) -> int:
    """Width of the text context the backbone cross-attends to."""
    return cfg.text.dim if isinstance(cfg, UNetConfig) else cfg.ctx_dim


def build_backbone(cfg: BackboneConfig) -> nn.Module:
    """(x [B,4,16,16], t [B], ctx [B,L,d], mask [B,L]) -> velocity [B,4,16,16]."""
    return UNet(cfg) if isinstance(cfg, UNetConfig) else DiT(cfg)


class TextToVelocity(nn.Module):
    """A backbone plus a text front-end and a learned null context (subclasses add the
    front-end)."""

    kind = ""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.ctx_dim = context_dim(cfg)
        self.backbone = build_backbone(cfg)
        # CFG's unconditional input (DiT's class_dropout_prob): one learned pooled vector in
        # slot 0, every other slot masked out
        self.null = nn.Parameter(torch.randn(self.ctx_dim) * 0.02)

    def encode_text(self, inputs: Any) -> Context:
        raise NotImplementedError

    def null_context(self, batch: int, length: int = 1) -> Context:
        """[B, length, d_ctx] zeros with the learned null vector in slot 0; mask slot 0 only."""
        ctx = self.null.new_zeros(batch, length, self.ctx_dim)
        ctx[:, 0] = self.null
        mask = torch.zeros(batch, length, dtype=torch.bool, device=ctx.device)
        mask[:, 0] = True
        return ctx, mask

    def apply_dropout(self, context: Context, drop: torch.Tensor) -> Context:
        """Rows where ``drop`` [B] is True get the null context (gradient reaches ``null``)."""
        ctx, mask = context
        null_ctx, null_mask = self.null_context(ctx.shape[0], ctx.shape[1])
        keep = ~drop.to(ctx.device)
        ctx = torch.where(keep[:, None, None], ctx, null_ctx.to(ctx.dtype))
        return ctx, torch.where(keep[:, None], mask, null_mask)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        inputs: Any = None,
        *,
        context: Context | None = None,
        drop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pass front-end ``inputs`` or a precomputed ``context`` (reused across steps)."""
        context = context if context is not None else self.encode_text(inputs)
        if drop is not None:
            context = self.apply_dropout(context, drop)
        return self.backbone(x, t, *context)  # [B, 4, 16, 16]


class PicoDiT(TextToVelocity):
    """(x_t [B,4,16,16], t [B], token ids [B,L]) -> velocity; learned text encoder."""

    kind = "pico-dit"

    def __init__(self, cfg: DiTConfig, text: TextConfig) -> None:
        super().__init__(cfg)
        self.text_cfg = text
        self.text = TextEncoder(text)
        self.text_proj = nn.Linear(text.dim, cfg.ctx_dim) if text.dim != cfg.ctx_dim \
            else nn.Identity()

    def encode_text(self, ids: torch.Tensor) -> Context:
        states, mask = self.text(ids)  # [B, L, D], [B, L]
        states = self.text_proj(states)
        pooled = masked_mean(states, mask)  # [B, d_ctx]
        ctx = torch.cat([pooled[:, None], states], dim=1)  # [B, 1+L, d_ctx]
        return ctx, torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)


class PicoLM(TextToVelocity):
    """(x_t, t, (MiniLM states [B,L,384], mask [B,L])) -> velocity; frozen LM + connector."""

    kind = "pico-lm"

    def __init__(self, cfg: BackboneConfig, connector: ConnectorConfig) -> None:
        super().__init__(cfg)
        if connector.dim != self.ctx_dim:
            raise ValueError(f"connector dim {connector.dim} != the backbone's context width "
                             f"{self.ctx_dim}")
        self.connector_cfg = connector
        self.connector = LMConnector(connector)

    def encode_text(self, features: tuple[torch.Tensor, torch.Tensor]) -> Context:
        tokens, mask = features
        dev = self.null.device
        return self.connector(tokens.to(dev), mask.to(dev))


@dataclass
class TransformerBundle:
    """Everything needed to sample, shaped like ``PicoBundle`` so the engine treats both alike.

    ``tokenizer`` is the text front-end: a ``Tokenizer`` (prompts -> ids) for pico-dit, a
    ``FrozenLM`` (prompts -> MiniLM states) for pico-lm; both have ``unknown_words``.
    """

    model: TextToVelocity
    tokenizer: Tokenizer | FrozenLM
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    meta: dict[str, Any] = field(default_factory=dict)


def save_transformer(
    path: Path | str,
    model: TextToVelocity,
    sampling: SamplingDefaults,
    tokenizer: Tokenizer | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """fp16 (pico-dit: int8 matrices) safetensors + JSON metadata that rebuild ``model``
    (and its tokenizer)."""
    meta: dict[str, Any] = {"kind": model.kind, "backbone": backbone_name(model.cfg),
                            "config": asdict(model.cfg), "sampling": asdict(sampling)}
    if isinstance(model, PicoDiT):
        if tokenizer is None:
            raise ValueError("a pico-dit checkpoint needs its tokenizer")
        meta |= {"text": asdict(model.text_cfg), "vocab": tokenizer.vocab,
                 "max_len": tokenizer.max_len}
    elif isinstance(model, PicoLM):
        meta |= {"connector": asdict(model.connector_cfg), "lm": LM_NAME}
    # pico-dit's 10.7 M parameters are 21 MB in fp16, over the repository's 20 MiB file limit:
    # its matrices go to per-row int8 (the DiT-sized pico-lm is optional and stays fp16)
    return save_checkpoint(path, model, {**meta, **(extra or {})},
                           int8=isinstance(model, PicoDiT))


def build_model(meta: dict[str, Any]) -> TextToVelocity:
    """The (untrained) network a checkpoint's metadata describes."""
    cfg: BackboneConfig
    if meta.get("backbone", "dit") == "unet":
        cfg = config_from_dict(meta["config"])
    else:
        cfg = DiTConfig(**meta["config"])
    kind = meta["kind"]
    if kind == PicoDiT.kind:
        return PicoDiT(cfg, TextConfig(**meta["text"]))
    if kind == PicoLM.kind:
        return PicoLM(cfg, ConnectorConfig(**meta["connector"]))
    raise ValueError(f"unknown model kind {kind!r}")


def load_transformer(path: Path | str, lm: FrozenLM | None = None) -> TransformerBundle:
    """Rebuild a pico-dit or pico-lm bundle (eval mode, no grad); CheckpointError names the
    file when it is missing, corrupt, or its metadata is incomplete."""
    tensors, meta = read_checkpoint(path)
    try:
        model = build_model(meta)
        sampling = SamplingDefaults(**meta.get("sampling", {}))
        front: Tokenizer | FrozenLM
        if isinstance(model, PicoDiT):
            front = Tokenizer(meta["vocab"], meta["max_len"])
        else:
            front = lm or FrozenLM()
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"has incomplete metadata ({exc})") from exc
    load_into(model, tensors, path)
    model.eval().requires_grad_(False)
    return TransformerBundle(model, front, sampling, meta)
