"""The generation record embedded in every stored PNG.

Two text chunks: ``triptych`` holds the full record as JSON (our own round trip) and
``parameters`` an AUTOMATIC1111-style summary so other tools (image browsers, A1111's PNG
info tab) show the prompt, seed and model too.
"""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image, PngImagePlugin

RECORD_KEY = "triptych"


def a1111_parameters(record: dict[str, Any]) -> str:
    fields = [
        ("Steps", record.get("steps")),
        ("Seed", record.get("seed")),
        ("Size", f"{record.get('width')}x{record.get('height')}"),
        ("Model", record.get("model")),
        ("Model version", record.get("model_version") or None),
        ("Credits", record.get("credits")),
        ("Time taken", f"{record['seconds']:.2f}s" if record.get("seconds") is not None else None),
        ("Generator", "Triptych"),
    ]
    summary = ", ".join(f"{k}: {v}" for k, v in fields if v not in (None, ""))
    return f"{record.get('prompt', '')}\n{summary}"


def encode_png(image: Image.Image, record: dict[str, Any]) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECORD_KEY, json.dumps(record, sort_keys=True, default=str))
    info.add_itxt("parameters", a1111_parameters(record))
    buffer = io.BytesIO()
    rgb = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
    rgb.save(buffer, format="PNG", pnginfo=info, optimize=False)
    return buffer.getvalue()


def read_record(source: str | bytes | io.BytesIO) -> dict[str, Any]:
    """Read the embedded record back from a PNG path or bytes."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    with Image.open(source) as image:
        text = image.text.get(RECORD_KEY)  # type: ignore[attr-defined]
    if text is None:
        raise ValueError("this PNG has no Triptych generation record")
    return json.loads(text)
