"""Evaluation prompt sets: fresh in-distribution prompts, held-out compositions, prompt files.

An eval item is (prompt to generate from, spec to judge against). Normally the two come from
the same text; with a paraphrase file the model sees the paraphrase and is judged against the
canonical prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from triptych.errors import InvalidRequest
from triptych.world.captions import caption
from triptych.world.parse import PromptParseError, PromptSpec, parse_prompt
from triptych.world.sampling import is_heldout_scene, sample_scene
from triptych.world.vocab import is_heldout_pair, is_heldout_shape

TASKS: tuple[str, ...] = (
    "single_object", "two_objects", "counting", "colors", "position", "attribute_binding",
    "background", "text",
)
GENEVAL_TASKS: tuple[str, ...] = TASKS[:6]
PRIMARY_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t != "background")
HELDOUT_TASKS: tuple[str, ...] = ("position", "attribute_binding", "colors", "counting")

# A seed stream no trainer uses: prompts are new scenes of familiar compositions.
DEFAULT_PROMPT_SEED = 20_261_127


@dataclass(frozen=True)
class EvalItem:
    prompt: str  # what the generator is given
    spec: PromptSpec  # what the judge checks (parsed from the prompt, or its canonical form)
    heldout: bool = False


def generated_prompts(per_task: int = 30, split: str = "train",
                      seed: int = DEFAULT_PROMPT_SEED) -> list[EvalItem]:
    """``per_task`` distinct prompts for each primary task (7 tasks in-distribution, 4 held-out).

    Prompts are sampled like training captions (same grammar, ~60 % with a background clause,
    which feeds the background task). Held-out prompts must state the held-out composition
    (a held-out pair described without its relation is skipped).
    """
    tasks = HELDOUT_TASKS if split == "heldout" else PRIMARY_TASKS
    rng = random.Random(seed + (1 if split == "heldout" else 0))
    buckets: dict[str, list[EvalItem]] = {t: [] for t in tasks}
    seen: set[str] = set()
    for _ in range(200_000):
        if all(len(b) >= per_task for b in buckets.values()):
            break
        scene = sample_scene(rng, split)
        text = caption(scene, rng)
        spec = parse_prompt(text)
        if spec.task not in buckets or len(buckets[spec.task]) >= per_task or text in seen:
            continue
        if split == "heldout" and scene.kind == "pair" and spec.task != "position":
            continue
        seen.add(text)
        buckets[spec.task].append(EvalItem(text, spec, heldout=is_heldout_scene(scene)))
    return [item for t in tasks for item in buckets[t]]


def spec_is_heldout(spec: PromptSpec) -> bool:
    """Does the prompt ask for a held-out composition?"""
    if any(o.colour and is_heldout_shape(o.colour, o.name) for o in spec.objects):
        return True
    if spec.task == "position" and spec.relation:
        return is_heldout_pair(spec.objects[0].name, spec.relation, spec.objects[1].name)
    return False


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InvalidRequest(f"Cannot read prompts file {path}: {exc}", field="prompts") from exc
    return [(i, line.rstrip("\n")) for i, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def _parse_line(path: Path, lineno: int, text: str) -> PromptSpec:
    try:
        return parse_prompt(text)
    except PromptParseError as exc:
        raise InvalidRequest(f"{path}:{lineno}: {exc}", field="prompts", line=lineno) from exc


def prompts_from_file(path: str | Path) -> list[EvalItem]:
    """One prompt per line in the caption language; blank lines and # comments skipped."""
    path = Path(path)
    items = []
    for n, text in _lines(path):
        spec = _parse_line(path, n, text)
        items.append(EvalItem(text.strip(), spec, heldout=spec_is_heldout(spec)))
    if not items:
        raise InvalidRequest(f"Prompts file {path} has no prompts.", field="prompts")
    return items


def paraphrases_from_file(path: str | Path) -> list[EvalItem]:
    """``paraphrase<TAB>canonical prompt`` per line: generate from the first, judge the second."""
    path = Path(path)
    items = []
    for n, line in _lines(path):
        if "\t" not in line:
            raise InvalidRequest(f"{path}:{n}: expected 'paraphrase<TAB>canonical prompt'",
                                 field="paraphrases", line=n)
        paraphrase, canonical = (part.strip() for part in line.split("\t", 1))
        spec = _parse_line(path, n, canonical)
        items.append(EvalItem(paraphrase, spec, heldout=spec_is_heldout(spec)))
    if not items:
        raise InvalidRequest(f"Paraphrases file {path} has no lines.", field="paraphrases")
    return items
