"""The architectures report: every built-in model on the same prompts and seeds, side by side.

``triptych eval --all`` runs ``run_eval`` for each built-in catalog model whose checkpoints are
present (the others are listed with the reason they were skipped), then writes, to one folder:

* ``architectures.md``: a table per model (family, parameters, training steps and CPU time,
  ms/image, KID, overall and per-task scores) — the local version of a model-by-model guide;
* ``architectures.json``: the same numbers, machine-readable;
* ``sheet.png``: one sample sheet, a row per prompt and a column per model (first seed), each
  tile framed green when the judge passed it;
* ``details/<model>/``: each model's own eval report (every judged image) and sheet — bulky,
  so the copy kept in ``docs/architectures`` leaves it out (git-ignored).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from triptych.catalog.card import ModelCard
from triptych.evaluation.runner import EvalOptions, run_eval
from triptych.evaluation.sheet import sample_sheet
from triptych.evaluation.tasks import TASKS, EvalItem

SHEET_PROMPTS = 12


def builtin_cards() -> list[ModelCard]:
    from triptych.catalog import load_catalog

    return [card for card in load_catalog() if card.builtin]


def checkpoint_facts(card: ModelCard) -> dict[str, Any]:
    """Parameters and training cost from the checkpoint's own metadata (what its card says)."""
    from triptych.engines.builtin.engine import checkpoint_path
    from triptych.nets.checkpoint import CheckpointError, read_checkpoint

    try:
        tensors, meta = read_checkpoint(checkpoint_path(card.target))
    except CheckpointError:
        return {}
    train = meta.get("train", {})
    return {
        "params": sum(t.numel() for t in tensors.values()),
        "train_steps": train.get("steps"),
        "init_steps": train.get("init_steps") or 0,
        "train_minutes": round(train["wall_s"] / 60, 1) if "wall_s" in train else None,
        "train_device": train.get("device", "cpu"),  # GPU minutes are not CPU minutes
    }


def run_architectures(
    items: list[EvalItem],
    opts: EvalOptions,
    out_dir: str | Path,
    *,
    cards: list[ModelCard] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate every available built-in model; write the report folder; return its data."""
    from triptych.engines.registry import availability
    from triptych.settings import Settings

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    rows: list[dict[str, Any]] = []
    judge_sha = None
    skipped: dict[str, str] = {}
    images: dict[str, list[Image.Image]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    for card in cards if cards is not None else builtin_cards():
        status = availability(card, settings)
        if not status.available:
            skipped[card.id] = status.reason or "unavailable"
            continue
        kept: list[Image.Image] = []
        report = run_eval(card, items, opts, out_dir=out / "details" / card.id, progress=progress,
                          images_out=kept)
        images[card.id], records[card.id] = kept, report["records"]
        rows.append({
            "model": card.id, "family": card.family, "tier": card.tier,
            "credits": card.credits, "steps": report.get("steps") or card.default_steps,
            "overall": report["overall"], "tasks": report["tasks"],
            "kid": (report.get("kid") or {}).get("mean"),
            "ms_per_image": report["ms_per_image"]["median"],
            **checkpoint_facts(card),
        })
        judge_sha = report["judge_sha256"]
    data = {"created": datetime.now(UTC).isoformat(timespec="seconds"),
            "n_prompts": len(items), "seeds": opts.seeds, "layout_check": opts.layout_check,
            "models": rows, "skipped": skipped,
            "judge_sha256": judge_sha if rows else None}
    (out / "architectures.json").write_text(json.dumps(data, indent=2))
    if rows:
        sheet = comparison_sheet(items, images, records, opts.seeds)
        sheet.save(out / "sheet.png")
        data["sheet"] = str(out / "sheet.png")
    (out / "architectures.md").write_text(markdown(data))
    return data


def comparison_sheet(items: list[EvalItem], images: dict[str, list[Image.Image]],
                     records: dict[str, list[dict[str, Any]]], seeds: int) -> Image.Image:
    """Rows: up to SHEET_PROMPTS prompts spread over the tasks; columns: models (seed 0)."""
    by_task: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_task.setdefault(item.spec.task, []).append(i)
    chosen: list[int] = []
    while len(chosen) < min(SHEET_PROMPTS, len(items)):
        for idxs in by_task.values():
            if idxs and len(chosen) < SHEET_PROMPTS:
                chosen.append(idxs.pop(0))
    models = list(images)
    rows = [(items[i].prompt, [(images[m][i * seeds], records[m][i * seeds]["passed"])
                               for m in models]) for i in chosen]
    return sample_sheet(rows, header=models)


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _judge_note(data: dict[str, Any]) -> str:
    sha = data.get("judge_sha256")
    return f" (judge.safetensors sha256 {sha}…)" if sha else ""


def markdown(data: dict[str, Any]) -> str:
    rows = data["models"]
    lines = [
        "# Built-in architectures side by side",
        "",
        f"Generated by `triptych eval --all` on {data['created']}: {data['n_prompts']} fresh "
        f"prompts × {data['seeds']} seeds, the same for every model, scored by the shipped "
        f"judge{_judge_note(data)}. ms/image is the median of one n=1 request at 64×64 on this "
        "machine's CPU; training time is the checkpoint's own run (a warm start adds its "
        "source's steps; GPU runs are marked). " + (
            "The diffusion models sample with the layout check (the product default; "
            "builtin-models.md#layout-check)."
            if data.get("layout_check", True) else
            "The layout check was off (--no-layout-check): raw models."),
        "",
        "| model | family | params | training | steps/image | ms/image | KID | overall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        train = "–"
        if r.get("train_steps") is not None:
            train = f"{r['train_steps']} steps, {_fmt(r.get('train_minutes'), '.0f')} min"
            if str(r.get("train_device", "cpu")).startswith("cuda"):
                train += " on a GPU"
            if r.get("init_steps"):
                train += f" (+{r['init_steps']} warm-start steps)"
        params = f"{r['params'] / 1e6:.2f} M" if r.get("params") else "–"
        lines.append(f"| {r['model']} | {r['family']} | {params} | {train} | {r['steps']} | "
                     f"{r['ms_per_image']:.0f} | {_fmt(r['kid'], '.4f')} | "
                     f"**{r['overall']:.3f}** |")
    tasks = [t for t in TASKS if any(t in r["tasks"] for r in rows)]
    lines += ["", "Per task (pass rate):", "",
              "| model | " + " | ".join(t.replace("_", " ") for t in tasks) + " |",
              "|---|" + "---|" * len(tasks)]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(_fmt(r["tasks"].get(t)) for t in tasks)
                     + " |")
    if data.get("sheet"):
        lines += ["", "![one prompt per row, one model per column](sheet.png)", "",
                  "Columns: " + ", ".join(r["model"] for r in rows) + " (seed 0; green frame: "
                  "the judge passed the image)."]
    if data["skipped"]:
        lines += ["", "Not in this run:", ""]
        lines += [f"- {model}: {reason}" for model, reason in data["skipped"].items()]
    return "\n".join(lines) + "\n"
