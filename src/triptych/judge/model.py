"""The judge network: a compact CNN that reads a 64×64 scene back into its attributes.

Objects sit on a jittered 3×3 slot grid, so instead of a detector the judge pools its 8×8
feature map into 9 slot vectors (learned soft windows, initialised on the slot centres) and
classifies each slot: object class (or empty) and colour. Global heads read the background
colour and the word's colour. The word is read like a text line in OCR, from the stem's
32×32 map (letters of 12–16 px fonts are 5–10 px wide: the 16×16 map's 4 px columns merged
neighbours): two convs halve the rows only, a learned attention per column pools the rows into
32 columns of 2 px, and a 1-D conv stack predicts, per column, the letter whose centre lies in
it or blank; the letters found, left to right, spell the word (centred words of any length
need no alignment; readout.decode_columns). The network only predicts; labels, losses and
scoring live elsewhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from triptych.world.vocab import COLOURS, LETTERS, MAX_WORD_LEN, OBJECTS


@dataclass(frozen=True)
class JudgeConfig:
    channels: tuple[int, ...] = (32, 64, 128, 128)  # stem, then one stage per downsample
    n_classes: int = len(OBJECTS) + 1  # 0 = empty slot
    n_colours: int = len(COLOURS)
    word_len: int = MAX_WORD_LEN  # longest word the labels carry
    n_chars: int = len(LETTERS) + 1  # 0 = blank column
    text_width: int = 64  # channels of the column features of the text line head
    slots: int = 3  # slot grid side
    slot_sigma: float = 1.2  # initial width (in 8×8 cells) of each slot's pooling window

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> JudgeConfig:
        data = dict(data)
        data["channels"] = tuple(data["channels"])
        return cls(**data)


# Sizes by name; "tiny" is for CI smoke tests only.
CONFIGS: dict[str, JudgeConfig] = {
    "small": JudgeConfig(),
    "tiny": JudgeConfig(channels=(8, 8, 16, 16), text_width=8),
}


def _conv(cin: int, cout: int, stride: int | tuple[int, int] = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Judge(nn.Module):
    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        self.config = config
        c0, c1, c2, c3 = config.channels
        self.stem = nn.Sequential(
            _conv(3, c0, stride=2),  # 64 -> 32
            _conv(c0, c1),
            _conv(c1, c1, stride=2),  # 32 -> 16
            _conv(c1, c2),
        )
        self.trunk = nn.Sequential(
            _conv(c2, c2, stride=2),  # 16 -> 8
            _conv(c2, c3),
            _conv(c3, c3),
        )
        n_slots = config.slots * config.slots
        self.slot_logits = nn.Parameter(self._slot_prior(config))  # [9, 64] pooling windows
        self.slot_class = nn.Linear(c3, config.n_classes)
        self.slot_colour = nn.Linear(c3, config.n_colours)
        self.background = nn.Linear(c3, config.n_colours)
        self.word_colour = nn.Linear(c3, config.n_colours)
        tw = config.text_width
        self.text_conv = nn.Sequential(  # rows halve, columns keep 2 px: [B, tw, 16, 32]
            _conv(c1, tw, stride=(2, 1)),
            _conv(tw, tw),
        )
        self.text_row_attn = nn.Conv2d(tw, 1, 3, padding=1)  # which rows hold the word
        self.text_cols = nn.Sequential(  # ±5 columns (±10 px) more: a letter and its neighbours
            nn.Conv1d(tw, tw, 5, padding=2), nn.ReLU(inplace=True),
            nn.Conv1d(tw, tw, 5, padding=2), nn.ReLU(inplace=True),
            nn.Conv1d(tw, tw, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.chars = nn.Conv1d(tw, config.n_chars, 1)
        self.n_slots = n_slots

    @staticmethod
    def _slot_prior(config: JudgeConfig) -> torch.Tensor:
        """Log of a Gaussian window centred on each slot of the 8×8 map."""
        side = 8  # the trunk's output map
        ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        centres = [((r + 0.5) * side / config.slots - 0.5, (c + 0.5) * side / config.slots - 0.5)
                   for r in range(config.slots) for c in range(config.slots)]
        prior = [-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * config.slot_sigma**2)
                 for cy, cx in centres]
        return torch.stack(prior).reshape(len(centres), side * side).float()  # [9, 64]

    def features(self, x: torch.Tensor, text: bool = True) -> dict[str, torch.Tensor]:
        """x: [B, 3, 64, 64] in [-1, 1] -> intermediate features used by every head
        (``text=False`` skips the text line head, which KID's embedding does not use)."""
        fmap32 = self.stem[1](self.stem[0](x))  # [B, C1, 32, 32]
        fmap16 = self.stem[3](self.stem[2](fmap32))  # [B, C2, 16, 16]
        fmap = self.trunk(fmap16)  # [B, C, 8, 8]
        flat = fmap.flatten(2)  # [B, C, 64]
        weights = self.slot_logits.softmax(dim=-1)  # [9, 64]
        slots = torch.einsum("bcn,sn->bsc", flat, weights)  # [B, 9, C]
        pooled = flat.mean(dim=-1)  # [B, C]
        if not text:
            return {"slots": slots, "pooled": pooled}
        line = self.text_conv(fmap32)  # [B, tw, 16, 32]
        rows = self.text_row_attn(line).softmax(dim=2)  # [B, 1, 16, 32], sums to 1 per column
        cols = (line * rows).sum(dim=2)  # [B, tw, 32]
        return {"slots": slots, "pooled": pooled, "text": self.text_cols(cols)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)
        return {
            "slot_class": self.slot_class(f["slots"]),  # [B, 9, n_classes]
            "slot_colour": self.slot_colour(f["slots"]),  # [B, 9, n_colours]
            "background": self.background(f["pooled"]),  # [B, n_colours]
            "word_colour": self.word_colour(f["pooled"]),  # [B, n_colours]
            "chars": self.chars(f["text"]).transpose(1, 2),  # [B, 32 columns, 27], 0 = blank
        }

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features for KID: pooled + per-slot vectors, [B, C * 10]."""
        f = self.features(x, text=False)
        return torch.cat([f["pooled"], f["slots"].flatten(1)], dim=1)

    def text_parameters(self) -> list[nn.Parameter]:
        """The text line head's own weights (what a text-only fine-tune trains)."""
        return [p for name, p in self.named_parameters() if is_text_param(name)]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def is_text_param(name: str) -> bool:
    return name.startswith(("text_", "chars."))


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 64, 64, 3] -> float [B, 3, 64, 64] in [-1, 1] (the autoencoder's range)."""
    x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if x.shape[-1] != 64 or x.shape[-2] != 64:
        x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    return x


