"""A job's images as one zip ("download all"). PNGs are compressed already: stored, not
deflated. Each file keeps its generation record embedded."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from triptych.client import Triptych
from triptych.errors import NotFound


def slug(text: str, limit: int = 40) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:limit].rstrip("-") or "image"


def zip_name(job: dict[str, Any]) -> str:
    return f"triptych-{slug(job['prompt'])}-{job['id'][:8]}.zip"


def job_zip(tp: Triptych, job: dict[str, Any]) -> bytes:
    if not job["images"]:
        raise NotFound("This job has no images to download.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in job["images"]:
            name = f"{slug(job['prompt'])}-seed{image['record'].get('seed', job['seed'])}-" \
                   f"{image['index'] + 1}.png"
            archive.writestr(name, tp.image_bytes(image["id"]))
    return buffer.getvalue()
