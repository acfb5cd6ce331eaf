"""Loading a pipeline folder onto a device as its catalog entry says (``[model.local]``).

The class comes from the folder's ``model_index.json`` through ``AutoPipelineForText2Image``
(which maps a family's image-to-image or inpainting folder to its text-to-image class), or
``DiffusionPipeline`` for classes the auto pipeline does not list (SANA-Sprint). Loading is
``local_files_only`` with ``HF_HUB_OFFLINE`` set: nothing is ever fetched.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch

from triptych.catalog.local_model import LocalModel
from triptych.engines.diffusers_engine.folder import PipelineFolder
from triptych.engines.residency import module_bytes

# Before diffusers, transformers and huggingface_hub first import: they read these once
# (as triptych/embeddings.py does for the sentence model).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # a server's log is no terminal
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Importing diffusers' pipelines names transformers' image processors, which warn (once, at
# whatever moment they are first named) that torchvision is absent; text-to-image never uses
# them, and the warning would land in the middle of someone else's output.
logging.getLogger("transformers.utils.import_utils").setLevel(logging.ERROR)

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when present, else mps, else cpu; ``cuda`` -> ``cuda:0``."""
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    return "cuda:0" if device == "cuda" else device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype != "auto":
        return DTYPES[dtype]
    if device.startswith("cuda"):
        return torch.bfloat16
    return torch.float16 if device == "mps" else torch.float32


def generator_device(device: str) -> str:
    """Where per-request generators live: the GPU for CUDA (noise drawn where it is used),
    the CPU for MPS and CPU (diffusers' advice for MPS: its generator is not reproducible)."""
    return device if device.startswith("cuda") else "cpu"


@dataclass
class LoadedPipeline:
    pipe: Any
    device: str
    dtype: torch.dtype
    offload: str
    compiled: bool
    preview_decoder: Any = None

    @property
    def denoiser(self) -> Any:
        return getattr(self.pipe, "transformer", None) or getattr(self.pipe, "unet", None)

    def modules(self) -> list[torch.nn.Module]:
        found = [m for m in self.pipe.components.values() if isinstance(m, torch.nn.Module)]
        if self.preview_decoder is not None:
            found.append(self.preview_decoder)
        return found

    def total_bytes(self) -> int:
        return module_bytes(*self.modules())

    def device_bytes(self) -> int:
        """What the model holds on its device between jobs: everything, or with model
        offload the largest component (the one on the GPU while it runs), or with
        sequential offload about nothing."""
        if self.offload == "none":
            return self.total_bytes()
        if self.offload == "model":
            return max((module_bytes(m) for m in self.modules()), default=0)
        return 0


def load(folder: PipelineFolder, local: LocalModel, device: str) -> LoadedPipeline:
    from diffusers import AutoPipelineForText2Image, DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    dtype = resolve_dtype(local.dtype, device)
    kwargs = dict(dtype=dtype, local_files_only=True)
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(str(folder.path), **kwargs)
    except ValueError:  # a class the auto pipeline does not map
        pipe = DiffusionPipeline.from_pretrained(str(folder.path), **kwargs)
    if local.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif local.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    loaded = LoadedPipeline(pipe, device, dtype, local.offload, False,
                            _preview_decoder(folder, device, dtype))
    denoiser = loaded.denoiser
    if local.attention and denoiser is not None:
        denoiser.set_attention_backend(local.attention)
    if local.compile and denoiser is not None:
        denoiser.compile()  # in place; the first run per shape pays for it
        loaded.compiled = True
    return loaded


def _preview_decoder(folder: PipelineFolder, device: str, dtype: torch.dtype) -> Any:
    sub = folder.path / "preview_decoder"
    if not (sub / "config.json").is_file():
        return None
    from diffusers import AutoencoderTiny

    return AutoencoderTiny.from_pretrained(str(sub), dtype=dtype,
                                           local_files_only=True).to(device).eval()


def unload(loaded: LoadedPipeline) -> None:
    """Let go of the weights (the residency manager then collects and empties the cache)."""
    try:
        if loaded.offload != "none":
            loaded.pipe.remove_all_hooks()
    except Exception:
        pass
    loaded.pipe = None
    loaded.preview_decoder = None
