"""Run the judge on images and turn its logits into a readable scene description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from triptych.judge.model import Judge, to_input
from triptych.world.scene import GRID
from triptych.world.vocab import COLOUR_NAMES, LETTERS, OBJECTS

CLASS_NAMES: tuple[str, ...] = ("empty", *OBJECTS)


LETTER_FLOOR = 0.05  # P(not blank) below which a column is blank outright
LETTER_THRESHOLD = 0.3  # P(not blank) summed over a letter's columns: above it, a letter


def decode_columns(probs: np.ndarray, floor: float = LETTER_FLOOR,
                   threshold: float = LETTER_THRESHOLD) -> str:
    """Per-column probabilities [32, 27] (0 = blank) -> the word.

    The head is trained to fire at each letter's centre column, but a centre near a column
    boundary splits its probability between two neighbours (each may be under any threshold,
    or read as two letters). So columns are taken strongest first; each claims its stronger
    unclaimed neighbour, and the pair is one letter if their summed P(not blank) passes
    ``threshold``, reading the letter with the most summed probability. Letter centres are at
    least two columns apart at these font sizes, so a pair never holds two letters.
    """
    present = 1.0 - probs[:, 0]  # [32]
    claimed = np.zeros(len(present), dtype=bool)
    found: list[tuple[int, int]] = []  # (leftmost column, letter index)
    for c in np.argsort(-present, kind="stable").tolist():
        if claimed[c] or present[c] < floor:
            continue
        group = [c]
        near = [d for d in (c - 1, c + 1)
                if 0 <= d < len(present) and not claimed[d] and present[d] >= floor]
        if near:
            group.append(max(near, key=lambda d: present[d]))
        claimed[group] = True
        if present[group].sum() > threshold:
            found.append((min(group), int(probs[group, 1:].sum(0).argmax())))
    return "".join(LETTERS[i] for _, i in sorted(found))


@dataclass
class Readout:
    """What the judge sees in one image (probabilities kept for confidence thresholds)."""

    slot_probs: np.ndarray  # [9, n_classes] softmax over empty + OBJECTS
    slot_colour_probs: np.ndarray  # [9, n_colours]
    background_probs: np.ndarray  # [n_colours]
    word_colour_probs: np.ndarray  # [n_colours]
    char_probs: np.ndarray  # [32 columns, 27], 0 = blank

    @property
    def background(self) -> str:
        return COLOUR_NAMES[int(self.background_probs.argmax())]

    @property
    def word(self) -> str:
        return decode_columns(self.char_probs)

    @property
    def word_colour(self) -> str:
        return COLOUR_NAMES[int(self.word_colour_probs.argmax())]

    def slot_class(self, slot: int) -> str:
        return CLASS_NAMES[int(self.slot_probs[slot].argmax())]

    def slot_colour(self, slot: int) -> str:
        return COLOUR_NAMES[int(self.slot_colour_probs[slot].argmax())]

    def prob(self, slot: int, name: str) -> float:
        return float(self.slot_probs[slot, OBJECTS.index(name) + 1])

    def objects(self) -> list[dict]:
        """Detected objects (argmax not empty), with slot, colour for shapes, confidence."""
        out = []
        for s in range(GRID * GRID):
            name = self.slot_class(s)
            if name == "empty":
                continue
            out.append({"name": name, "slot": s, "row": s // GRID, "col": s % GRID,
                        "colour": self.slot_colour(s), "p": float(self.slot_probs[s].max())})
        return out

    def summary(self) -> dict:
        """A compact, comparable description (used for agreement between two generators)."""
        return {
            "background": self.background,
            "objects": sorted((o["slot"], o["name"], o["colour"] if o["name"] in _SHAPES else None)
                              for o in self.objects()),
            "word": self.word,
        }


_SHAPES = frozenset(("circle", "square", "triangle", "star"))


@torch.no_grad()
def logits_to_readouts(out: dict[str, torch.Tensor]) -> list[Readout]:
    probs = {k: v.float().softmax(-1).numpy() for k, v in out.items()}
    return [
        Readout(probs["slot_class"][i], probs["slot_colour"][i], probs["background"][i],
                probs["word_colour"][i], probs["chars"][i])
        for i in range(probs["background"].shape[0])
    ]


@torch.no_grad()
def read_images(judge: Judge, images: np.ndarray | torch.Tensor | list, batch: int = 256
                ) -> list[Readout]:
    """images: uint8 [N, H, W, 3] (array/tensor) or a list of PIL images -> one Readout each."""
    if isinstance(images, list):
        images = np.stack([np.asarray(im.convert("RGB")) for im in images]) if images else \
            np.zeros((0, 64, 64, 3), np.uint8)
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    judge.eval()
    out: list[Readout] = []
    for i in range(0, images.shape[0], batch):
        out.extend(logits_to_readouts(judge(to_input(images[i:i + batch]))))
    return out
