"""Run an eval: generate every (prompt, seed) with a model's engine, judge, score, report.

Eval is a model-development tool, like a benchmark: it calls engines directly (no credits, no
job service). Each (prompt, seed) is its own ``generate`` call with ``n=1``, so a seed means
the same thing for every engine and ms/image is the wall time of one call.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from triptych.catalog.card import ModelCard
from triptych.engines.base import GenerationRequest
from triptych.errors import NotFound
from triptych.evaluation.report import summarize
from triptych.evaluation.sheet import sample_sheet
from triptych.evaluation.tasks import EvalItem
from triptych.judge.checkpoint import DEFAULT_PATH as JUDGE_DEFAULT_PATH
from triptych.judge.checkpoint import load_judge
from triptych.judge.kid import judge_features, kid
from triptych.judge.readout import read_images
from triptych.judge.scoring import score_image
from triptych.nets.checkpoint import file_digest

SIZE = 64


@dataclass
class EvalOptions:
    seeds: int = 4  # images per prompt, seeds seed_base .. seed_base + seeds - 1
    seed_base: int = 0
    steps: int | None = None  # None: the model's default
    guidance: float | None = None  # None: the model's default CFG scale
    layout_check: bool = True  # the diffusion models' spatial-relation check (engine option)
    judge_path: str | None = None  # None: the shipped judge
    kid_real: int = 1000  # real renders for KID
    kid_subset: int = 100
    sheet_rows: int = 16


def resolve_card(model: str | ModelCard) -> ModelCard:
    if isinstance(model, ModelCard):
        return model
    from triptych.evaluation.reference import REFERENCE_MODELS, reference_card

    if model in REFERENCE_MODELS:
        return reference_card(model)
    from triptych.catalog import load_catalog
    from triptych.catalog.loader import UnknownModelError

    try:
        return load_catalog().get(model)
    except UnknownModelError as exc:
        raise NotFound(str(exc), model=model) from None


def generate_all(card: ModelCard, items: list[EvalItem], opts: EvalOptions,
                 progress: Callable[[int, int], None] | None = None
                 ) -> tuple[list[Image.Image], list[float]]:
    """Images in (prompt-major, seed-minor) order, and the wall time (ms) of each call."""
    from triptych.engines.registry import create_engine
    from triptych.settings import Settings

    if card.scheme == "reference":
        from triptych.evaluation.reference import ReferenceEngine

        codec = card.target.partition("+")[2] or None
        engine = ReferenceEngine(codec)
    else:
        engine = create_engine(card, Settings())
    images, times = [], []
    options: dict[str, Any] = {} if opts.guidance is None else {"guidance": opts.guidance}
    if not opts.layout_check:
        options["layout_check"] = False
    total = len(items) * opts.seeds
    for item in items:
        for k in range(opts.seeds):
            request = GenerationRequest(prompt=item.prompt, width=SIZE, height=SIZE,
                                        seed=opts.seed_base + k, n=1, steps=opts.steps,
                                        target=card.target, options=options)
            t0 = time.perf_counter()
            result = engine.generate(request)
            times.append((time.perf_counter() - t0) * 1000)
            image = result.images[0].image.convert("RGB")
            if image.size != (SIZE, SIZE):
                image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
            images.append(image)
            if progress:
                progress(len(images), total)
    return images, times


def judge_images(items: list[EvalItem], images: list[Image.Image], seeds: int, seed_base: int,
                 judge) -> tuple[list[dict[str, Any]], list]:
    readouts = read_images(judge, images)
    records = []
    for i, item in enumerate(items):
        for k in range(seeds):
            r = readouts[i * seeds + k]
            s = score_image(item.spec, r)
            records.append({"prompt": item.prompt, "judged_as": item.spec.prompt,
                            "seed": seed_base + k, "task": s.task, "heldout": item.heldout,
                            "passed": s.passed, "checks": s.checks, "cer": s.cer,
                            "read": r.summary()})
    return records, readouts


def reference_renders(items: list[EvalItem], n: int, seed: int = 1_000_003) -> np.ndarray:
    """~n real renders of the same prompts (ground-truth scenes, seeds no generator uses), so
    KID compares image statistics on the same content distribution. uint8 [n', 64, 64, 3]."""
    import random

    from triptych.world.render import render
    from triptych.world.sampling import scene_from_spec

    per_item = max(1, -(-n // max(1, len(items))))
    out = [np.asarray(render(scene_from_spec(item.spec, random.Random(seed + 7919 * i + k))))
           for i, item in enumerate(items) for k in range(per_item)]
    return np.stack(out)


def _diversity(feats: np.ndarray, seeds: int) -> float | None:
    """Mean pairwise feature distance between the seeds of one prompt, averaged."""
    if seeds < 2:
        return None
    per_prompt = feats.reshape(-1, seeds, feats.shape[-1])
    dists = [np.linalg.norm(p[i] - p[j]) for p in per_prompt
             for i in range(seeds) for j in range(i + 1, seeds)]
    return float(np.mean(dists))


def run_eval(model: str | ModelCard, items: list[EvalItem], opts: EvalOptions | None = None,
             *, agree_with: str | ModelCard | None = None, out_dir: str | Path | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             images_out: list[Image.Image] | None = None) -> dict[str, Any]:
    """Evaluate ``model`` on ``items``; write report.json and sheet.png to ``out_dir``.
    ``images_out`` receives the generated images (prompt-major, seed-minor)."""
    opts = opts or EvalOptions()
    card = resolve_card(model)
    judge = load_judge(opts.judge_path)

    def tick(label: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(label, done, total)) if progress else None

    images, times = generate_all(card, items, opts, tick(card.id))
    if images_out is not None:
        images_out.extend(images)
    records, _ = judge_images(items, images, opts.seeds, opts.seed_base, judge)
    report: dict[str, Any] = {
        "model": card.id, "steps": opts.steps, "guidance": opts.guidance,
        "layout_check": opts.layout_check, "seeds": opts.seeds,
        "n_prompts": len(items),
        "n_images": len(images), **summarize(records),
    }
    heldout = [r for r in records if r["heldout"]]
    if heldout and len(heldout) < len(records):
        report["heldout"] = summarize(heldout)
        report["in_distribution"] = summarize([r for r in records if not r["heldout"]])
    report["ms_per_image"] = {"mean": statistics.fmean(times), "median": statistics.median(times)}

    fake = judge_features(judge, np.stack([np.asarray(im) for im in images]))
    real = judge_features(judge, reference_renders(items, opts.kid_real))
    if fake.shape[0] >= 2:
        k_mean, k_std = kid(real, fake, subset_size=opts.kid_subset)
        report["kid"] = {"mean": k_mean, "std": k_std, "n_real": real.shape[0],
                         "n_fake": fake.shape[0],
                         "subset_size": min(opts.kid_subset, fake.shape[0]),
                         "features": "judge penultimate (pooled + 9 slot vectors)",
                         "real": "renders of scenes satisfying the same prompts, other seeds"}
    report["diversity"] = _diversity(fake, opts.seeds)

    if agree_with is not None:
        other = resolve_card(agree_with)
        other_opts = EvalOptions(**{**opts.__dict__, "steps": None, "guidance": None})
        other_images, _ = generate_all(other, items, other_opts, tick(other.id))
        other_records, _ = judge_images(items, other_images, opts.seeds, opts.seed_base, judge)
        same_checks = [a["checks"] == b["checks"] for a, b in zip(records, other_records,
                                                                   strict=True)]
        same_scene = [a["read"] == b["read"] for a, b in zip(records, other_records, strict=True)]
        report["agreement"] = {
            "model": other.id, "checks": float(np.mean(same_checks)),
            "scene": float(np.mean(same_scene)), "other_overall": summarize(other_records)[
                "overall"], "other_tasks": summarize(other_records)["tasks"],
        }

    report["judge"] = str(opts.judge_path or "builtin")
    # scores are comparable only under the same judge weights: name them exactly
    report["judge_sha256"] = file_digest(opts.judge_path or JUDGE_DEFAULT_PATH)
    report["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["records"] = records
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        rows = _sheet_rows(items, images, records, opts)
        sheet_path = out / "sheet.png"
        sample_sheet(rows).save(sheet_path)
        report["out_dir"] = str(out)
        report["sheet"] = str(sheet_path)
        (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _sheet_rows(items: list[EvalItem], images: list[Image.Image], records: list[dict],
                opts: EvalOptions) -> list[tuple[str, list[tuple[Image.Image, bool]]]]:
    """Up to ``sheet_rows`` prompts, spread over the tasks (round robin)."""
    by_task: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_task.setdefault(item.spec.task, []).append(i)
    chosen: list[int] = []
    while len(chosen) < min(opts.sheet_rows, len(items)):
        for idxs in by_task.values():
            if idxs and len(chosen) < opts.sheet_rows:
                chosen.append(idxs.pop(0))
    rows = []
    for i in chosen:
        cells = [(images[i * opts.seeds + k], records[i * opts.seeds + k]["passed"])
                 for k in range(opts.seeds)]
        rows.append((items[i].prompt, cells))
    return rows
