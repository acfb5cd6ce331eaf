"""The local-directory backend: ``<root>/<sha[:2]>/<sha>.<ext>``, the embedded default.

A file is written to a temporary name beside its final one, synced, then renamed into place,
so readers never see a partial file and a crash leaves at worst an unreferenced one. The
location is the file's absolute path, as databases made before object storage hold it; every
process that shares the database must see the directory at that path (one machine, or a
shared mount).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from triptych.service.store.base import SHARD, StoredObject, content_key
from triptych.service.store.errors import (
    ObjectMissing,
    os_reason,
    read_failed,
    save_failed,
    unavailable,
)

MIN_FREE_BYTES = 64 * 2**20  # readiness fails below this: a job's PNGs would not fit for long


def _modified(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)


def _in_layout(path: Path) -> bool:
    """Only ``<sha[:2]>/<sha>…`` files are ours to delete, whatever a row says."""
    return bool(SHARD.fullmatch(path.parent.name)) and path.name.startswith(path.parent.name)


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()  # locations must not depend on the working directory

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def put(self, data: bytes, ext: str = "png") -> tuple[str, str]:
        sha, key = content_key(data, ext)
        path = self.root / key
        try:
            if path.is_file():
                os.utime(path)  # young again: the sweeper must spare what a job is about to use
                return sha, str(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # named after the object so the sweeper recognises (and reaps) a crashed write
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{sha}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                # No fsync: like the database (WAL, synchronous=NORMAL) a write survives the
                # process dying, and only an OS crash can lose the newest; an fsync per image
                # would cost more than the rest of the job's bookkeeping.
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise save_failed(os_reason(exc), f"{path}: {exc!r}") from exc
        return sha, str(path)

    def read(self, location: str) -> bytes:
        try:
            return Path(location).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(location) from None
        except OSError as exc:
            raise read_failed(os_reason(exc), f"{location}: {exc!r}") from exc

    def exists(self, location: str) -> bool:
        return Path(location).is_file()

    def delete(self, location: str, *, if_older_than: datetime | None = None) -> bool:
        if "://" in location:  # object storage: not ours to delete
            return False
        path = Path(location)
        if not _in_layout(path):
            raise ValueError(f"{location!r} is not a stored object")
        try:
            if if_older_than is not None and _modified(path.stat()) >= if_older_than:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise unavailable(os_reason(exc), f"{location}: {exc!r}") from exc
        return True

    def iter_locations(self) -> Iterator[StoredObject]:
        try:
            shards = sorted(e.name for e in os.scandir(self.root)
                            if e.is_dir(follow_symlinks=False) and SHARD.fullmatch(e.name))
        except FileNotFoundError:
            return
        for shard in shards:
            with contextlib.suppress(FileNotFoundError), os.scandir(self.root / shard) as it:
                for entry in it:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    path = self.root / shard / entry.name
                    if not _in_layout(path):
                        continue
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:  # deleted while we looked
                        continue
                    yield StoredObject(str(path), _modified(stat))

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root) as probe:
                probe.write(b"ok")
                probe.flush()
            free = shutil.disk_usage(self.root).free
        except OSError as exc:
            raise unavailable(os_reason(exc), f"{self.root}: {exc!r}") from exc
        if free < MIN_FREE_BYTES:
            raise unavailable("the disk is full", f"{free} bytes free under {self.root}")
