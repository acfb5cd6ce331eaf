"""Image storage: one content-addressed interface (``base.ImageStore``), two backends.

- ``local.LocalStore``: a directory (``Settings.image_dir``), the embedded default;
- ``s3.S3Store``: S3-compatible object storage, for workers on other machines
  (``TRIPTYCH_STORE_URL=s3://bucket/prefix``).

Every reader and writer goes through the store, never the filesystem, so a location written
by a worker on one machine reads back in the web process on another.
"""

from __future__ import annotations

from pathlib import Path

from triptych.service.store.base import (
    ImageStore,
    StoredObject,
    content_key,
    content_name,
    local_path,
)
from triptych.service.store.errors import ObjectMissing, StoreError
from triptych.service.store.local import LocalStore
from triptych.settings import Settings

__all__ = ["ImageStore", "LocalStore", "ObjectMissing", "StoreError", "StoredObject",
           "content_key", "content_name", "local_path", "make_store"]


def make_store(settings: Settings) -> ImageStore:
    """The store ``settings`` name: ``store_url`` unset → ``image_dir``; ``s3://bucket/prefix``
    → object storage; a directory (or ``file://`` URL) → that directory, e.g. a shared mount."""
    url = settings.store_url
    if not url:
        return LocalStore(settings.image_dir)
    if url.startswith("s3://"):
        from triptych.service.store.s3 import S3Store  # boto3 loads only when S3 is used

        return S3Store.from_url(url, endpoint_url=settings.s3_endpoint_url)
    if url.startswith("file://"):
        return LocalStore(Path(url[len("file://"):]))
    if "://" not in url:
        return LocalStore(Path(url).expanduser())
    raise ValueError(f"TRIPTYCH_STORE_URL must be s3://bucket/prefix or a directory, not {url!r}")
