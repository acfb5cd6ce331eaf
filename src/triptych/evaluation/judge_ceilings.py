"""What a judge can score at best: ``triptych eval`` of the reference generators (the
world's own renders, and the same through the autoencoder) under that judge, in and out of
distribution. Written on the judge's card after training."""

from __future__ import annotations

from pathlib import Path

from triptych.evaluation.runner import EvalOptions, run_eval
from triptych.evaluation.tasks import generated_prompts


def judge_ceilings(judge_path: str | Path, with_ae: bool, per_task: int = 10, seeds: int = 2
                  ) -> dict[str, dict]:
    """``triptych eval`` scores of the reference generators under this judge (small set)."""
    opts = EvalOptions(seeds=seeds, judge_path=str(judge_path), kid_real=200, kid_subset=50)
    out = {}
    for split in ("train", "heldout"):
        items = generated_prompts(per_task, split)
        for model in ("ground-truth", "ground-truth+ae") if with_ae else ("ground-truth",):
            report = run_eval(model, items, opts)
            out[f"{model} ({'in-distribution' if split == 'train' else 'held-out'})"] = {
                "overall": report["overall"], "tasks": report["tasks"],
                "n_images": report["n_images"]}
    return out
