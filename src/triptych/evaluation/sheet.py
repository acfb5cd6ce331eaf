"""A sample sheet: a few prompts (rows) × their seeds (columns), framed green when the judge
passed the image and red when it failed, with the prompt written beside each row."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

TILE = 64
BORDER = 3
TEXT_WIDTH = 320
HEADER = 22  # px above the first row when columns have titles
PASS, FAIL = (40, 180, 70), (220, 40, 40)


def sample_sheet(rows: list[tuple[str, list[tuple[Image.Image, bool]]]], scale: int = 2,
                 header: list[str] | None = None) -> Image.Image:
    """rows: (prompt, [(image, passed), ...]) -> one RGB sheet; ``header``: column titles."""
    cols = max((len(images) for _, images in rows), default=1)
    cell = TILE * scale + 2 * BORDER
    top = HEADER if header else 0
    sheet = Image.new("RGB", (cols * cell + TEXT_WIDTH, max(1, len(rows)) * cell + top),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for c, title in enumerate(header or []):
        draw.text((c * cell + 4, 5), title, fill=(0, 0, 0), font=font)
    for r, (prompt, images) in enumerate(rows):
        y = r * cell + top
        for c, (image, passed) in enumerate(images):
            x = c * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=PASS if passed else FAIL)
            tile = image.convert("RGB").resize((TILE * scale,) * 2, Image.Resampling.NEAREST)
            sheet.paste(tile, (x + BORDER, y + BORDER))
        words, line, lines = prompt.split(), "", []
        for w in words:  # naive wrap to the text column
            if draw.textlength(line + " " + w, font=font) > TEXT_WIDTH - 12 and line:
                lines.append(line)
                line = w
            else:
                line = (line + " " + w).strip()
        lines.append(line)
        for i, text in enumerate(lines[: cell // 15]):
            draw.text((cols * cell + 8, y + 6 + 15 * i), text, fill=(0, 0, 0), font=font)
    return sheet
