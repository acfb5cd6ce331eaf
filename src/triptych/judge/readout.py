"""Run the judge on images and turn its logits into a readable scene description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from triptych.judge.model import Judge, to_input
from triptych.world.scene import GRID
from triptych.world.vocab import COLOUR_NAMES, LETTERS, OBJECTS

CLASS_NAMES: tuple[str, ...] = ("empty", *OBJECTS)


LETTER_THRESHOLD = 0.4  # P(not blank) above which a column holds a letter


def decode_columns(probs: np.ndarray) -> str:
    """Per-column probabilities [16, 27] (0 = blank) -> the word.

    The head is trained to fire once, at each letter's centre column; a letter that fires in
    two neighbouring columns is read once (merging adjacent identical letters measured +8
    points of exact match on renders; a true double letter is two columns apart at these
    font sizes).
    """
    letter = probs[:, 1:].argmax(-1) + 1  # [16]
    present = (1.0 - probs[:, 0]) > LETTER_THRESHOLD  # [16]
    out, prev = [], 0
    for i, on in zip(letter.tolist(), present.tolist(), strict=True):
        cur = i if on else 0
        if cur and cur != prev:
            out.append(LETTERS[cur - 1])
        prev = cur
    return "".join(out)


@dataclass
class Readout:
    """What the judge sees in one image (probabilities kept for confidence thresholds)."""

    slot_probs: np.ndarray  # [9, n_classes] softmax over empty + OBJECTS
    slot_colour_probs: np.ndarray  # [9, n_colours]
    background_probs: np.ndarray  # [n_colours]
    word_colour_probs: np.ndarray  # [n_colours]
    char_probs: np.ndarray  # [16 columns, 27], 0 = blank

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
