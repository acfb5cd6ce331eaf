"""Content-addressed image store on the filesystem: ``<root>/<sha[:2]>/<sha>.<ext>``.

Writing the same bytes twice is free and a file is never modified in place, so a crash mid-job
leaves at worst an unreferenced file, never a corrupt one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, ext: str = "png") -> tuple[str, Path]:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / sha[:2] / f"{sha}.{ext}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # atomic: readers never see a partial file
        return sha, path

    def read(self, path: str | Path) -> bytes:
        return Path(path).read_bytes()
