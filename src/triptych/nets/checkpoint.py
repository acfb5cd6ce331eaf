"""Safetensors checkpoints with their config in the metadata, so one file rebuilds its model.

Shipped weights are stored in fp16 (half the size; the nets are small enough that fp16
storage loses nothing measurable) and loaded back as fp32. A missing or unreadable file raises
``CheckpointError`` naming the file, which the engine turns into ProviderUnavailableError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, or does not match the network it should build."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"checkpoint {path} {problem}")
        self.path = Path(path)
        self.problem = problem


def weights_path(name: str) -> Path:
    """Where a shipped checkpoint lives: ``src/triptych/weights/<name>.safetensors``."""
    return WEIGHTS_DIR / f"{name}.safetensors"


INT8_SCALE = ".int8_scale"  # suffix of the per-row scale stored next to an int8 matrix


def quantize_int8(value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row (output channel) int8: value ~= q * scale."""
    rows = value.reshape(value.shape[0], -1)
    scale = (rows.abs().amax(dim=1).clamp_min(1e-8) / 127).to(torch.float16).float()
    q = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.reshape(value.shape), scale


def save_checkpoint(
    path: Path | str,
    module: nn.Module,
    meta: dict[str, Any],
    *,
    half: bool = True,
    int8: bool = False,
    int8_keep: tuple[str, ...] = (),
) -> Path:
    """Write ``module``'s state dict plus JSON-encoded ``meta`` (config, vocab, stats).

    ``int8``: weight matrices (2-D and up, >= 4096 values) are stored as per-row int8 plus an
    fp16 scale, half the fp16 size; ``read_checkpoint`` dequantizes them transparently.
    ``int8_keep``: key prefixes whose matrices stay fp16 all the same.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in module.state_dict().items():
        value = value.detach().cpu()
        if (int8 and value.is_floating_point() and value.dim() >= 2 and value.numel() >= 4096
                and not key.startswith(int8_keep)):
            tensors[key], scale = quantize_int8(value.float())
            tensors[key + INT8_SCALE] = scale.to(torch.float16)
            continue
        if half and value.is_floating_point():
            value = value.to(torch.float16)
        tensors[key] = value.contiguous()
    metadata = {key: json.dumps(value) for key, value in meta.items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)  # atomic: a crash never leaves a half-written checkpoint behind
    path.chmod(0o644)  # safetensors writes 0600; shipped weights must be readable by all
    return path


def file_digest(path: Path | str, length: int = 12) -> str:
    """Short sha256 of a checkpoint file: names the exact weights in cards and versions."""
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def save_conditioned(path: Path | str, model: nn.Module, cfg: Any, tokenizer: Any,
                     sampling: Any, extra: dict[str, Any] | None = None) -> Path:
    """Save a text-conditioned model with what it needs to run: its config (a dataclass),
    the prompt tokenizer's vocabulary and its sampling defaults (a dataclass)."""
    from dataclasses import asdict

    meta = {"config": asdict(cfg), "vocab": tokenizer.vocab, "max_len": tokenizer.max_len,
            "sampling": asdict(sampling), **(extra or {})}
    return save_checkpoint(path, model, meta)


def read_meta(path: Path | str) -> dict[str, Any]:
    """A checkpoint's decoded metadata alone (the safetensors header, no tensors): enough to
    check its kind before loading it. CheckpointError if missing or corrupt."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw_meta = handle.metadata() or {}
        return {key: json.loads(value) for key, value in raw_meta.items()}
    except Exception as exc:  # safetensors raises several types for truncated/garbled files
        raise CheckpointError(path, f"is corrupt or unreadable ({exc})") from exc


def read_checkpoint(path: Path | str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (fp32 state dict, decoded metadata); CheckpointError if missing or corrupt."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "not found")
    try:
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt") as handle:
            raw_meta = handle.metadata() or {}
            keys = set(handle.keys())
            for key in keys - {k for k in keys if k.endswith(INT8_SCALE)}:
                value = handle.get_tensor(key)
                if key + INT8_SCALE in keys:  # an int8 matrix: dequantize per row
                    scale = handle.get_tensor(key + INT8_SCALE).float()
                    shape = (-1,) + (1,) * (value.dim() - 1)
                    tensors[key] = value.float() * scale.reshape(shape)
                else:
                    tensors[key] = value.float() if value.is_floating_point() else value
        meta = {key: json.loads(value) for key, value in raw_meta.items()}
    except Exception as exc:  # safetensors raises several types for truncated/garbled files
        raise CheckpointError(path, f"is corrupt or unreadable ({exc})") from exc
    return tensors, meta


def load_into(module: nn.Module, tensors: dict[str, torch.Tensor], path: Path | str) -> None:
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(path, f"does not match its network ({exc})") from exc
