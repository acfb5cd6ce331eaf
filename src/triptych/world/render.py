"""Pillow renderer: a pure function from a Scene to a 64×64 RGB image.

Emoji come from Noto Color Emoji, which FreeType opens only at size 109 (a CBDT bitmap font),
so each glyph is rendered once, cropped and resized per pixel size, and cached. Shapes are
drawn 4× supersampled into an alpha mask (cached per shape and size) and filled with the
colour. Words use Pillow's embedded scalable font (no system font needed).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from triptych.settings import Settings
from triptych.world.scene import CANVAS, Scene
from triptych.world.vocab import COLOURS, EMOJI, SHAPES

EMOJI_FONT_ENV = "TRIPTYCH_EMOJI_FONT"  # Settings.emoji_font
EMOJI_FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/local/share/fonts/NotoColorEmoji.ttf",
)
_EMOJI_PIXEL_SIZE = 109  # the only size the CBDT font opens at
_SUPERSAMPLE = 4


class AssetMissingError(RuntimeError):
    """The emoji font is not installed (apt-get install fonts-noto-color-emoji)."""


def emoji_font_path() -> Path:
    configured = Settings().emoji_font
    candidates = [str(configured)] if configured else []
    for path in [*candidates, *EMOJI_FONT_PATHS]:
        if Path(path).is_file():
            return Path(path)
    raise AssetMissingError(
        "Noto Color Emoji font not found (looked in "
        + ", ".join([*candidates, *EMOJI_FONT_PATHS])
        + f"); install 'fonts-noto-color-emoji' or set {EMOJI_FONT_ENV}."
    )


@functools.cache
def _emoji_font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(emoji_font_path()), _EMOJI_PIXEL_SIZE)


@functools.cache
def _emoji_master(name: str) -> Image.Image:
    """The full-resolution glyph (~120 px RGBA), cropped to its visible pixels."""
    im = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((10, 10), EMOJI[name], font=_emoji_font(), embedded_color=True)
    bbox = im.getbbox()
    if bbox is None:
        raise AssetMissingError(f"emoji font has no glyph for {name!r}")
    return im.crop(bbox)


@functools.cache
def emoji_glyph(name: str, size: int) -> Image.Image:
    """RGBA glyph whose longer side is ``size`` px."""
    master = _emoji_master(name)
    scale = size / max(master.size)
    w, h = max(1, round(master.width * scale)), max(1, round(master.height * scale))
    return master.resize((w, h), Image.Resampling.LANCZOS)


def _shape_polygon(shape: str, s: float) -> list[tuple[float, float]]:
    if shape == "triangle":  # equilateral-ish, apex up, filling the box
        return [(s / 2, 0), (s, s * 0.9), (0, s * 0.9)]
    if shape == "star":  # five points, outer radius s/2, inner 0.4 of it
        cx = cy = s / 2
        pts = []
        for i in range(10):
            r = s / 2 if i % 2 == 0 else s * 0.2
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a) + s * 0.04))
        return pts
    raise ValueError(shape)


@functools.cache
def shape_mask(shape: str, size: int) -> Image.Image:
    """L-mode antialiased mask of a shape, ``size`` px square."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    s = size * _SUPERSAMPLE
    big = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(big)
    if shape == "circle":
        draw.ellipse((0, 0, s - 1, s - 1), fill=255)
    elif shape == "square":
        m = s * 0.06  # a square's area matches a circle's better when slightly inset
        draw.rectangle((m, m, s - 1 - m, s - 1 - m), fill=255)
    else:
        draw.polygon(_shape_polygon(shape, s - 1), fill=255)
    return big.resize((size, size), Image.Resampling.BOX)


@functools.cache
def _text_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@functools.cache
def text_width(word: str, size: int) -> int:
    left, _, right, _ = _text_font(size).getbbox(word)
    return int(right - left)


def render(scene: Scene, size: int = 64) -> Image.Image:
    """Draw ``scene`` as an RGB image of ``size``×``size`` (laid out at 64, then resized)."""
    canvas = Image.new("RGB", (CANVAS, CANVAS), COLOURS[scene.background])
    for obj in scene.objects:
        cx, cy = obj.centre
        if obj.name in EMOJI:
            glyph = emoji_glyph(obj.name, obj.size)
            canvas.paste(glyph, (round(cx - glyph.width / 2), round(cy - glyph.height / 2)), glyph)
        else:
            mask = shape_mask(obj.name, obj.size)
            fill = Image.new("RGB", mask.size, COLOURS[obj.colour or "white"])
            canvas.paste(fill, (round(cx - mask.width / 2), round(cy - mask.height / 2)), mask)
    if scene.word:
        draw = ImageDraw.Draw(canvas)
        draw.text(
            (CANVAS / 2 + scene.text_dx, CANVAS / 2 + scene.text_dy), scene.word,
            fill=COLOURS[scene.word_colour or "white"], font=_text_font(scene.text_size),
            anchor="mm",
        )
    if size != CANVAS:
        canvas = canvas.resize((size, size), Image.Resampling.LANCZOS)
    return canvas
