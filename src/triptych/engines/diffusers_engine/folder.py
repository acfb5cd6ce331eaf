"""A pipeline folder on disk: where it is, what ``model_index.json`` says, whether it is whole.

Two layouts are read: a ``save_pretrained`` folder (``model_index.json`` beside one folder per
component) and a Hugging Face cache entry (``models--org--name/snapshots/<revision>/...``;
the revision ``refs/main`` names, else the only or newest snapshot). Nothing is downloaded:
a missing file is reported here, naming it, before any weights load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class FolderProblem(Exception):
    """The folder cannot serve as a pipeline; the message says what is wrong and where."""


@dataclass(frozen=True)
class PipelineFolder:
    path: Path  # the folder holding model_index.json
    class_name: str  # the pipeline class, e.g. "FluxPipeline"
    components: dict[str, tuple[str, str]]  # name -> (library, class), e.g. ("diffusers", ...)
    index: dict[str, Any]

    @property
    def weight_bytes(self) -> int:
        """Bytes of the weight files on disk: the estimate of a model's cost before it loads
        (the loaded size differs when the dtype does)."""
        total = 0
        for name in self.components:
            sub = self.path / name
            if sub.is_dir():
                total += sum(f.stat().st_size for f in sub.rglob("*")
                             if f.suffix in WEIGHT_SUFFIXES and f.is_file())
        return total


def resolve(target: str, models_dir: Path) -> Path:
    """The folder a binding target names: absolute, ``~``, or relative to ``models_dir``;
    a Hugging Face cache entry resolves to its snapshot."""
    path = Path(target).expanduser()
    if not path.is_absolute():
        path = models_dir / path
    return snapshot_of(path)


def snapshot_of(path: Path) -> Path:
    snapshots = path / "snapshots"
    if (path / "model_index.json").exists() or not snapshots.is_dir():
        return path
    ref = path / "refs" / "main"
    if ref.is_file():
        named = snapshots / ref.read_text().strip()
        if named.is_dir():
            return named
    found = sorted((p for p in snapshots.iterdir() if p.is_dir()),
                   key=lambda p: p.stat().st_mtime)
    return found[-1] if found else path


def inspect_folder(path: Path) -> PipelineFolder:
    """Read and check a pipeline folder; FolderProblem says what is missing."""
    if not path.exists():
        raise FolderProblem(f"folder {path} does not exist")
    if not path.is_dir():
        raise FolderProblem(f"{path} is not a folder")
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise FolderProblem(f"{path} has no model_index.json (save the pipeline with "
                            "save_pretrained, or point at a Hugging Face cache entry)")
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        raise FolderProblem(f"{index_file} cannot be read: {exc}") from None
    class_name = index.get("_class_name")
    if not isinstance(class_name, str):
        raise FolderProblem(f"{index_file} names no pipeline class (_class_name)")
    components: dict[str, tuple[str, str]] = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library, cls = value
        if library is None or cls is None:  # an optional component left out
            continue
        components[name] = (str(library), str(cls))
    missing = [name for name in components if not (path / name).is_dir()]
    if missing:
        raise FolderProblem(f"{path} is incomplete: no folder for {', '.join(missing)} "
                            "(the download may have stopped part-way)")
    for name, (library, _cls) in components.items():
        sub = path / name
        if library in ("diffusers", "transformers") and not _has_weights(sub) and \
                not _is_config_only(name):
            raise FolderProblem(f"{sub} holds no weight files (*.safetensors); the "
                                "download may have stopped part-way")
    return PipelineFolder(path, class_name, components, index)


def _is_config_only(name: str) -> bool:
    return name.startswith(("scheduler", "tokenizer", "feature_extractor", "image_processor"))


def _has_weights(sub: Path) -> bool:
    return any(f.suffix in WEIGHT_SUFFIXES for f in sub.rglob("*"))
