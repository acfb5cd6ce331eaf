"""PicoModel: the text encoder + latent U-Net that both pico-diffusion and pico-turbo use, and
its self-contained checkpoint (weights + config + vocabulary + sampling defaults).

pico-turbo has exactly the same network as pico-diffusion (it is initialised from it and
fine-tuned), so one class and one file format serve both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from triptych.nets.checkpoint import load_into, read_checkpoint, save_conditioned
from triptych.nets.text_encoder import TextConfig, TextEncoder, Tokenizer
from triptych.nets.unet import UNet, UNetConfig


class PicoModel(nn.Module):
    """(x_t [B,4,16,16], t [B], token ids [B,L]) -> velocity [B,4,16,16]."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = TextEncoder(cfg.text)
        self.unet = UNet(cfg)

    def encode_text(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.text(ids)  # ([B, L, D], [B, L])

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        ids: torch.Tensor | None = None,
        *,
        context: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Pass ``ids`` [B, L], or a precomputed ``context`` (reused across sampling steps)."""
        ctx, mask = context if context is not None else self.encode_text(ids)
        return self.unet(x, t, ctx, mask)

    def keep(self, x: torch.Tensor, t: torch.Tensor, *,
             context: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """A full step that also returns the deep feature ``shallow`` reuses (DeepCache)."""
        return self.unet.forward_keep(x, t, *context)

    def shallow(self, x: torch.Tensor, t: torch.Tensor, deep: torch.Tensor, *,
                context: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """A step that recomputes only the 16x16 level around ``deep`` from an earlier step."""
        return self.unet.forward_shallow(x, t, *context, deep)


@dataclass
class SamplingDefaults:
    steps: int = 20
    guidance: float | None = 3.0  # None: no CFG pass (pico-turbo, guidance is baked in)
    shift: float = 1.0  # time-grid shift, see diffusion.flow.timesteps
    # DeepCache: after each full step, this many steps reuse its deep U-Net feature and
    # recompute only the 16x16 level (0: every step is full; see sampler.reuse_plan)
    reuse_deep: int = 0
    # DeepCache at the end of sampling: the last this-many steps reuse the deep feature of
    # the last full step (late steps refine detail; the coarse layout has settled)
    reuse_tail: int = 0
    # CFG only at the steps whose t lies in [guidance_t_min, guidance_t_max] (Kynkaanniemi et
    # al. 2024, "Applying guidance in a limited interval"); the others run the conditional
    # pass alone, which also halves their batch
    guidance_t_min: float = 0.0
    guidance_t_max: float = 1.0


@dataclass
class PicoBundle:
    """Everything needed to sample: the network, its tokenizer and sampling defaults."""

    model: PicoModel
    tokenizer: Tokenizer
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    meta: dict[str, Any] = field(default_factory=dict)


def config_from_dict(data: dict[str, Any]) -> UNetConfig:
    data = dict(data)
    data["text"] = TextConfig(**data.get("text", {}))
    for key in ("mult", "attn_levels", "lite_levels", "lite_parts"):
        if key in data:
            data[key] = tuple(data[key])
    return UNetConfig(**data)


def save_pico(path: Path | str, model: nn.Module, cfg: UNetConfig, tokenizer: Tokenizer,
              sampling: SamplingDefaults, extra: dict[str, Any] | None = None) -> Path:
    return save_conditioned(path, model, cfg, tokenizer, sampling, extra)


def load_pico(path: Path | str) -> PicoBundle:
    tensors, meta = read_checkpoint(path)
    try:
        cfg = config_from_dict(meta["config"])
        tokenizer = Tokenizer(meta["vocab"], meta["max_len"])
        sampling = SamplingDefaults(**meta.get("sampling", {}))
    except (KeyError, TypeError, ValueError) as exc:
        from triptych.nets.checkpoint import CheckpointError

        raise CheckpointError(path, f"has incomplete metadata ({exc})") from exc
    model = PicoModel(cfg)
    load_into(model, tensors, path)
    model.eval().requires_grad_(False)
    return PicoBundle(model, tokenizer, sampling, meta)
