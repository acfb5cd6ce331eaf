"""``triptych models add-local``: a catalog entry for a pipeline folder, from what the folder
says (``model_index.json`` -> the pipeline family -> its usual steps, guidance and size)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from triptych.catalog.card import ModelCard
from triptych.engines.diffusers_engine.families import family_of
from triptych.engines.diffusers_engine.folder import inspect_folder, snapshot_of
from triptych.engines.residency import GB


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def catalog_entry(path: Path, model_id: str, credits: int, *, tier: str | None = None,
                  name: str | None = None, device: str = "auto", dtype: str = "auto",
                  offload: str = "none") -> str:
    """A ``[[model]]`` TOML entry (checked by parsing it back into a ModelCard);
    FolderProblem when the folder cannot serve."""
    path = path.expanduser().resolve()
    folder = inspect_folder(snapshot_of(path))
    fam = family_of(folder.class_name, path.name)
    side = fam.size
    max_side = min(2048, side * 2) if side >= 1024 else side * 2
    guidance = "" if fam.guidance is None else f"guidance = {fam.guidance}\n"
    text = (
        f"# {fam.label} ({folder.class_name}); weights on disk: "
        f"{folder.weight_bytes / GB:.1f} GiB\n"
        "[[model]]\n"
        f"id = {_s(model_id)}\n"
        f"name = {_s(name or path.name)}\n"
        'provider = "Local (diffusers)"\n'
        f"family = {_s(fam.catalog_family)}\n"
        f"tier = {_s(tier or fam.tier)}\n"
        f"credits = {credits}\n"
        f"quality = {_s('good' if fam.distilled else 'high')}\n"
        f"description = {_s(f'{fam.label}, an open-weight model running on this server.')}\n"
        'best_for = ["general"]\n'
        "capabilities = []\n"
        f"max_width = {max_side}\n"
        f"max_height = {max_side}\n"
        f"min_width = {side // 2}\n"
        f"min_height = {side // 2}\n"
        f"default_width = {side}\n"
        f"default_height = {side}\n"
        "max_n = 4\n"
        f"default_steps = {fam.steps}\n"
        f"max_steps = {fam.max_steps}\n"
        f"engine = {_s('diffusers:' + str(path))}\n"
        "\n"
        "[model.local]\n"
        f"device = {_s(device)}\n"
        f"dtype = {_s(dtype)}\n"
        f"offload = {_s(offload)}\n"
        f"{guidance}"
        "compile = false\n"
    )
    ModelCard(**tomllib.loads(text)["model"][0])  # what we write must load
    return text


def append_entry(file: Path, text: str) -> None:
    """Add the entry to an operator catalog file; ValueError for an id it already has."""
    entry = tomllib.loads(text)["model"][0]
    if file.exists():
        existing = tomllib.loads(file.read_text()).get("model", [])
        if any(m.get("id") == entry["id"] for m in existing):
            raise ValueError(f"{file} already has a model called {entry['id']!r}")
        before = file.read_text()
        sep = "" if not before or before.endswith("\n\n") else (
            "\n" if before.endswith("\n") else "\n\n")
    else:
        file.parent.mkdir(parents=True, exist_ok=True)
        before, sep = "", ""
    file.write_text(before + sep + text)
