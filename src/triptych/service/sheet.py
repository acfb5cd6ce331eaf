"""The side-by-side comparison sheet: each model's image with its name, credits and seconds."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from triptych.catalog.card import credits_text

TILE = 256  # every image is shown at this size, so tiny 64 px drafts are legible beside 1 MP
LABEL_H = 44
PAD = 8


@dataclass(frozen=True)
class SheetEntry:
    model_name: str
    credits: int
    seconds: float | None
    image: Image.Image | None  # None: the model failed
    note: str = ""  # e.g. the error, shown instead of the image


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def compose_sheet(prompt: str, entries: list[SheetEntry]) -> Image.Image:
    width = PAD + len(entries) * (TILE + PAD)
    header = 28
    sheet = Image.new("RGB", (width, header + TILE + LABEL_H + 2 * PAD), "white")
    draw = ImageDraw.Draw(sheet)
    title = prompt if len(prompt) <= 90 else prompt[:87] + "..."
    draw.text((PAD, 6), title, fill="black", font=_font(14))
    for i, entry in enumerate(entries):
        x, y = PAD + i * (TILE + PAD), header
        if entry.image is not None:
            # Nearest keeps small drafts crisp instead of smearing them.
            tile = entry.image.convert("RGB").copy()
            tile.thumbnail((TILE, TILE), Image.Resampling.NEAREST
                           if max(tile.size) < TILE else Image.Resampling.LANCZOS)
            if tile.size != (TILE, TILE):
                tile = tile.resize((TILE, TILE), Image.Resampling.NEAREST)
            sheet.paste(tile, (x, y))
        else:
            draw.rectangle((x, y, x + TILE - 1, y + TILE - 1), fill="#eeeeee", outline="#999999")
            draw.text((x + 8, y + TILE // 2 - 8), entry.note[:36] or "failed", fill="#aa0000",
                      font=_font(12))
        seconds = f"{entry.seconds:.2f} s" if entry.seconds is not None else "-"
        draw.text((x, y + TILE + 4), entry.model_name, fill="black", font=_font(14))
        draw.text((x, y + TILE + 22), f"{credits_text(entry.credits)} · {seconds}", fill="#444444",
                  font=_font(12))
    return sheet
