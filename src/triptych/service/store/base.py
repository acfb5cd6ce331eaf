"""The store interface every backend implements, and the content-addressed naming they share.

An object is named by the SHA-256 of its bytes, ``<sha[:2]>/<sha>.<ext>`` under the backend's
root, so writing the same bytes twice is free and an object never changes once written. The
*location* a backend returns is what the database keeps (``Image.path``, ``Image.svg_path``,
``Compare.sheet_path``) and must resolve in every process: an absolute path for the local
directory, ``s3://bucket/key`` for object storage.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

SHARD = re.compile(r"[0-9a-f]{2}")
EXT = re.compile(r"[a-z0-9]{1,8}")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


@dataclass(frozen=True)
class StoredObject:
    location: str
    modified: datetime  # naive UTC, as the service stores times; rewriting refreshes it


class ImageStore(Protocol):
    def put(self, data: bytes, ext: str = "png") -> tuple[str, str]:
        """Store ``data``; ``(sha256, location)``. Idempotent; refreshes the object's
        modification time when it already exists (garbage collection spares young objects).
        Raises ``StoreError``, leaving nothing half-written behind."""
        ...

    def read(self, location: str) -> bytes:
        """The bytes; ``ObjectMissing`` if nothing is there, ``StoreError`` if unreachable."""
        ...

    def exists(self, location: str) -> bool: ...

    def delete(self, location: str, *, if_older_than: datetime | None = None) -> bool:
        """Remove the object, only if it was last written before ``if_older_than`` when
        given. True if this call removed it; a missing object is not an error."""
        ...

    def iter_locations(self) -> Iterator[StoredObject]:
        """Every object in the content layout (half-written leftovers included)."""
        ...

    def check(self) -> None:
        """Readiness: raise ``StoreError`` unless the store can be reached and written."""
        ...


def content_key(data: bytes, ext: str) -> tuple[str, str]:
    """``(sha256, "<sha[:2]>/<sha>.<ext>")``."""
    if not EXT.fullmatch(ext):
        raise ValueError(f"extension must be 1-8 lowercase letters or digits, not {ext!r}")
    sha = hashlib.sha256(data).hexdigest()
    return sha, f"{sha[:2]}/{sha}.{ext}"


def content_name(location: str) -> str:
    """The object's own name (``<sha>.<ext>``), the same whatever root or bucket holds it."""
    return location.rsplit("/", 1)[-1]


def local_path(location: str) -> Path | None:
    """The file a local-directory location names; None for an object-storage URL."""
    return None if "://" in location else Path(location)
