"""Per-attribute accuracy of the judge against ground-truth scenes."""

from __future__ import annotations

import numpy as np
import torch

from triptych.judge.labels import IGNORE, targets
from triptych.judge.model import Judge
from triptych.world.scene import Scene


@torch.no_grad()
def attribute_accuracy(judge: Judge, x: torch.Tensor, scenes: list[Scene],
                       batch: int = 256) -> dict[str, float]:
    """x: float [N, 3, 64, 64] in [-1, 1] (renders or reconstructions) -> accuracies."""
    judge.eval()
    preds: dict[str, list[np.ndarray]] = {}
    char_probs = []
    for i in range(0, x.shape[0], batch):
        out = judge(x[i:i + batch])
        for k, v in out.items():
            preds.setdefault(k, []).append(v.argmax(-1).numpy())
        char_probs.append(out["chars"].float().softmax(-1).numpy())  # [b, 32, 27]
    p = {k: np.concatenate(v) for k, v in preds.items()}
    t = {k: np.stack([targets(s)[k] for s in scenes]) for k in targets(scenes[0])}
    occupied = t["slot_class"] > 0
    coloured = t["slot_colour"] != IGNORE
    has_word = (t["chars"] > 0).any(1)
    count_scene = np.array([s.kind == "count" for s in scenes])
    slot_ok = p["slot_class"] == t["slot_class"]  # [N, 9]
    from triptych.judge.readout import decode_columns
    from triptych.judge.scoring import cer

    words = [s.word or "" for s in scenes]
    read = [decode_columns(c) for c in np.concatenate(char_probs)]  # [N] decoded strings
    word_ok = np.array([r == w for r, w in zip(read, words, strict=True)])
    char_ok = np.array([1.0 - min(1.0, cer(r, w)) if w else np.nan
                        for r, w in zip(read, words, strict=True)])

    def mean(v: np.ndarray) -> float:
        return float(v.mean()) if v.size else float("nan")

    metrics = {
        "slot": mean(slot_ok),
        "object_class": mean(slot_ok[occupied]),
        "empty_slot": mean(slot_ok[~occupied]),
        "shape_colour": mean((p["slot_colour"] == t["slot_colour"])[coloured]),
        "background": mean(p["background"] == t["background"]),
        "word_exact": mean(word_ok[has_word]),
        "char": mean(char_ok[has_word]),  # 1 - CER
        "word_colour": mean((p["word_colour"] == t["word_colour"])[has_word]),
        "no_word": mean(word_ok[~has_word]),
        "scene_objects": mean(slot_ok.all(1)),
        "count_exact": mean(slot_ok.all(1)[count_scene]),
    }
    return {k: float(v) for k, v in metrics.items() if not np.isnan(v)}


def per_attribute(metrics: dict[str, float]) -> dict[str, float]:
    """The headline per-attribute accuracies (what the ≥ 98 % target is about)."""
    keys = ("object_class", "empty_slot", "shape_colour", "background", "char", "word_exact",
            "word_colour", "count_exact")
    return {k: metrics[k] for k in keys if k in metrics}


