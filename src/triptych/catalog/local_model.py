"""The ``[model.local]`` table of a catalog entry: how a ``diffusers:`` model runs here.

The folder itself is the engine binding's target (``engine = "diffusers:/models/flux2-klein"``;
a relative path is read under ``TRIPTYCH_MODELS_DIR``). Everything else a local pipeline needs
that the card's general fields (sizes, ``default_steps``, ``max_steps``) do not say lives here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Dtype = Literal["auto", "float32", "float16", "bfloat16"]
Offload = Literal["none", "model", "sequential"]
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")


class LocalModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # where the pipeline runs: "auto" (cuda when present, else mps, else cpu), cpu, mps,
    # cuda or cuda:N
    device: str = "auto"
    # weights' dtype: "auto" = bfloat16 on CUDA, float16 on MPS, float32 on the CPU
    dtype: Dtype = "auto"
    # "model": whole components move to the GPU when used (about half the memory, a little
    # slower); "sequential": layer by layer (smallest memory, several times slower)
    offload: Offload = "none"
    # diffusers attention backend ("native", "flash", "sage", ...); "" keeps the default
    attention: str = ""
    compile: bool = False  # torch.compile the denoiser (first image slow, later ones faster)
    guidance: float | None = None  # default CFG scale; None: the pipeline's own default
    max_guidance: float = 20.0
    sizes: list[str] = Field(default_factory=list)  # "WxH" allowed; empty: any multiple of 16
    preview_every: int = Field(1, ge=1)  # steps between two progress previews
    # PixArt-Σ and SANA draw at the nearest trained aspect ratio, then resize to the size
    # asked; False draws at exactly the size asked
    resolution_binning: bool = True

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("device must be auto, cpu, mps, cuda or cuda:N")
        return value

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: list[str]) -> list[str]:
        for size in value:
            if not _SIZE.match(size):
                raise ValueError(f"size {size!r} must look like 1024x768")
        return value

    def allowed_sizes(self) -> list[tuple[int, int]]:
        return [(int(m[1]), int(m[2])) for s in self.sizes if (m := _SIZE.match(s))]
