"""GenEval-style rules: does a judge readout satisfy what a prompt asks for?

Each rule is a binary per-image check, mirroring GenEval (arXiv 2310.11513):
- presence: some slot gives the class probability ≥ 0.3 (and the asked colour, if any)
- counting: at least N slots ≥ 0.5 and no more than N slots ≥ 0.3 (the "no N+1th" clause);
  GenEval asks 0.9 of its detector, but this judge is less peaked on correct slots (0.9 failed
  5 % of true four-object renders), so 0.5 (a confident argmax) is the calibrated equivalent
- position: the most confident A and B; centre offset shrunk by 0.1·(wA + wB), normalised;
  the relation holds if its component is > 0.5
- attribute binding: each shape in its own colour (a swap fails)
- background: the read background colour
- text: exact match of the read word; CER = edit distance / word length
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from triptych.judge.readout import Readout
from triptych.world.parse import ObjectSpec, PromptSpec
from triptych.world.scene import GRID

PRESENT = 0.3  # GenEval's detection threshold
COUNT_CONF = 0.5  # GenEval uses 0.9 for Mask2Former; see the module docstring
POSITION_MARGIN = 0.1  # × (wA + wB)
DIRECTION = 0.5
OBJECT_WIDTH = 18 / (64 / GRID)  # typical object width in slot units (18 px / 21.3 px)


@dataclass
class ImageScore:
    task: str
    passed: bool  # the primary task's rule
    checks: dict[str, bool] = field(default_factory=dict)  # every asked attribute
    cer: float | None = None  # text prompts only

    @property
    def all_correct(self) -> bool:
        return all(self.checks.values())


def _slots(r: Readout, obj: ObjectSpec, threshold: float) -> list[int]:
    return [s for s in range(GRID * GRID)
            if r.prob(s, obj.name) >= threshold
            and (obj.colour is None or r.slot_colour(s) == obj.colour)]


def present(r: Readout, obj: ObjectSpec) -> bool:
    return bool(_slots(r, obj, PRESENT))


def count_ok(r: Readout, obj: ObjectSpec, n: int) -> bool:
    return len(_slots(r, obj, COUNT_CONF)) >= n and len(_slots(r, obj, PRESENT)) <= n


def relation_holds(slot_a: int, slot_b: int, relation: str) -> bool:
    """GenEval's rule on slot centres (in slot units): is A <relation> B?"""
    dx = (slot_b % GRID) - (slot_a % GRID)  # > 0: B is right of A
    dy = (slot_b // GRID) - (slot_a // GRID)  # > 0: B is below A
    margin = POSITION_MARGIN * 2 * OBJECT_WIDTH
    sx = math.copysign(max(abs(dx) - margin, 0.0), dx)
    sy = math.copysign(max(abs(dy) - margin, 0.0), dy)
    norm = math.hypot(sx, sy)
    if norm == 0:
        return False
    component = {"left of": sx, "right of": -sx, "above": sy, "below": -sy}[relation] / norm
    return component > DIRECTION


def position_ok(r: Readout, a: ObjectSpec, b: ObjectSpec, relation: str) -> bool:
    slots_a, slots_b = _slots(r, a, PRESENT), _slots(r, b, PRESENT)
    if not slots_a or not slots_b:
        return False
    best_a = max(slots_a, key=lambda s: r.prob(s, a.name))
    best_b = max((s for s in slots_b if s != best_a), key=lambda s: r.prob(s, b.name),
                 default=None)
    return best_b is not None and relation_holds(best_a, best_b, relation)


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(read: str, truth: str) -> float:
    return levenshtein(read, truth) / max(1, len(truth))


def score_image(spec: PromptSpec, r: Readout) -> ImageScore:
    objs = spec.objects
    result = ImageScore(task=spec.task, passed=False)
    if spec.task in ("single_object", "colors"):
        result.passed = present(r, objs[0])
    elif spec.task in ("two_objects", "attribute_binding"):
        result.passed = present(r, objs[0]) and present(r, objs[1])
    elif spec.task == "counting":
        result.passed = count_ok(r, objs[0], spec.count or 1)
    elif spec.task == "position":
        result.passed = position_ok(r, objs[0], objs[1], spec.relation or "left of")
    elif spec.task == "text":
        read = r.word
        result.passed = read == spec.word
        result.cer = cer(read, spec.word or "")
    else:
        raise ValueError(f"unknown task {spec.task!r}")
    result.checks[spec.task] = result.passed
    if spec.background is not None:
        result.checks["background"] = r.background == spec.background
    if spec.task == "text" and spec.word_colour is not None:
        result.checks["word_colour"] = r.word_colour == spec.word_colour
    return result
