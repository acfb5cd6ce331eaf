"""Scene: the full, renderer-independent description of one image of the world.

A scene is the ground truth: the renderer draws it, captions describe it, the judge is trained
to read it back. All randomness (including position jitter) is decided when a scene is sampled,
so rendering is a pure function of the scene.

Geometry is in 64-pixel units: objects sit on a 3×3 slot grid (slot = row * 3 + col), each with
a small pixel offset (dx, dy) and a size (the glyph's longer side, in pixels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KINDS: tuple[str, ...] = ("single", "pair", "count", "shapes", "text")
GRID = 3  # slots per side
CANVAS = 64  # geometry unit: scenes are laid out on a 64×64 canvas
CELL = CANVAS / GRID  # 21.33 px per slot


@dataclass(frozen=True)
class Obj:
    name: str  # a key of vocab.OBJECTS
    slot: int  # 0..8, row-major on the 3×3 grid
    colour: str | None = None  # shapes only (emoji have fixed colours)
    size: int = 18  # longer side in px
    dx: int = 0  # jitter in px, applied to the slot centre
    dy: int = 0

    @property
    def row(self) -> int:
        return self.slot // GRID

    @property
    def col(self) -> int:
        return self.slot % GRID

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.col + 0.5) * CELL + self.dx, (self.row + 0.5) * CELL + self.dy)


@dataclass(frozen=True)
class Scene:
    kind: str  # one of KINDS
    background: str  # colour name
    objects: tuple[Obj, ...] = ()
    relation: str | None = None  # pair: objects[0] <relation> objects[1]
    count: int | None = None  # count: number of copies of objects[0].name
    word: str | None = None  # text: capital letters
    word_colour: str | None = None
    text_size: int = 14  # text: font size in px
    text_dx: int = 0  # text: jitter of the word's centre from the canvas centre
    text_dy: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["objects"] = [asdict(o) for o in self.objects]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        data = dict(data)
        data["objects"] = tuple(Obj(**o) for o in data.get("objects", ()))
        return cls(**data)
