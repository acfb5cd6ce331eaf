"""Saving and lazily loading the judge checkpoint (safetensors + JSON config in metadata)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from triptych.errors import ModelUnavailable
from triptych.judge.model import Judge, JudgeConfig

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_PATH = WEIGHTS_DIR / "judge.safetensors"
FORMAT = "triptych-judge/1"


class JudgeCheckpointError(ModelUnavailable):
    """The judge checkpoint is missing or unreadable; the message names the file."""

    code = "judge_checkpoint"


def save_judge(model: Judge, path: str | Path, extra: dict | None = None) -> Path:
    """Write weights as fp16 (BatchNorm counters dropped) with the config in the metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    meta = {"format": FORMAT, "config": json.dumps(model.config.to_dict()),
            "extra": json.dumps(extra or {})}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_judge_from(path: str | Path) -> Judge:
    """Load a judge checkpoint (eval mode, fp32). Raises JudgeCheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise JudgeCheckpointError(
            f"Judge checkpoint not found: {path}. Train it with 'triptych train judge' "
            "(or reinstall the package, which ships it).", path=str(path),
        )
    try:
        meta = read_metadata(path)
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        config = JudgeConfig.from_dict(json.loads(meta["config"]))
        tensors = load_file(str(path))
        model = Judge(config)
        missing, unexpected = model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()},
            strict=False,
        )
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    except (SafetensorError, OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise JudgeCheckpointError(
            f"Judge checkpoint {path} is corrupt or incompatible ({exc}). Retrain it with "
            "'triptych train judge'.", path=str(path),
        ) from exc
    return model.eval()


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> Judge:
    return load_judge_from(path)


def load_judge(path: str | Path | None = None) -> Judge:
    """The shipped judge (or ``path``), loaded on first use and cached per path (a rewritten
    file is reloaded)."""
    resolved = Path(path or DEFAULT_PATH).resolve()
    mtime = resolved.stat().st_mtime_ns if resolved.exists() else -1
    return _cached(str(resolved), mtime)
