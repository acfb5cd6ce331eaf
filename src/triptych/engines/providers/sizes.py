"""Map a requested width x height onto what a provider accepts.

Providers take sizes in different currencies: aspect-ratio strings (Gemini, xAI, Recraft,
Replicate), a short list of exact sizes (OpenAI), or free sizes under rules (BFL: multiples of
16, at most 4 MP; Seedream: a pixel-count window). Snapping compares aspect ratios in log
space, so 2:1 and 1:2 are equally far from 1:1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def ratio_value(ratio: str) -> float:
    w, _, h = ratio.partition(":")
    return float(w) / float(h)


def nearest_ratio(width: int, height: int, choices: Sequence[str]) -> str:
    target = math.log(width / height)
    return min(choices, key=lambda r: abs(math.log(ratio_value(r)) - target))


def nearest_size(width: int, height: int, sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The listed size closest in aspect ratio, then in area."""
    target_ratio = math.log(width / height)
    target_area = math.log(width * height)
    return min(
        sizes,
        key=lambda s: (round(abs(math.log(s[0] / s[1]) - target_ratio), 6),
                       abs(math.log(s[0] * s[1]) - target_area)),
    )


def fit_pixels(
    width: int,
    height: int,
    *,
    multiple: int = 1,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    min_side: int = 1,
    max_side: int | None = None,
) -> tuple[int, int]:
    """Scale (keeping the ratio) into a pixel-count window, then round to ``multiple``."""
    w, h = float(width), float(height)
    raised = False
    if max_pixels and w * h > max_pixels:
        scale = math.sqrt(max_pixels / (w * h))
        w, h = w * scale, h * scale
    elif min_pixels and w * h < min_pixels:
        scale = math.sqrt(min_pixels / (w * h))
        w, h = w * scale, h * scale
        raised = True
    if max_side and max(w, h) > max_side:
        scale = max_side / max(w, h)
        w, h = w * scale, h * scale

    def snap(v: float, how: str) -> int:
        steps = {"up": math.ceil, "down": math.floor, "near": round}[how](v / multiple)
        return max(min_side, max(1, int(steps)) * multiple)

    # Round up when raised to a minimum, to nearest otherwise, and down if nearest overshoots
    # a cap, so the provider's limits still hold after rounding.
    out = (snap(w, "up"), snap(h, "up")) if raised else (snap(w, "near"), snap(h, "near"))
    if not raised and ((max_pixels and out[0] * out[1] > max_pixels)
                       or (max_side and max(out) > max_side)):
        out = (snap(w, "down"), snap(h, "down"))
    return out


def size_note(requested: tuple[int, int], sent: str | tuple[int, int]) -> str:
    shown = sent if isinstance(sent, str) else f"{sent[0]}x{sent[1]}"
    return f"requested {requested[0]}x{requested[1]}, sent {shown}"
