"""The local-directory store: content addressing, ages for the sweeper, and failures that
really happen (the tests run as root, which ignores permission bits, so the failures used here
are ones the kernel enforces even for root)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from triptych.service.clock import utc_now
from triptych.service.store import LocalStore, ObjectMissing, StoreError, make_store
from triptych.settings import Settings


def stray_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.suffix == ".tmp"]


@contextlib.contextmanager
def file_size_limit(limit: int):
    """A kernel-enforced file size quota (RLIMIT_FSIZE) for this process: a write past it
    fails with EFBIG mid-file, as a full disk fails with ENOSPC, and root is not exempt."""
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills us
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


def test_put_is_content_addressed_and_idempotent(tmp_path):
    store = LocalStore(tmp_path / "images")
    sha, location = store.put(b"hello", "png")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert location == str(tmp_path / "images" / sha[:2] / f"{sha}.png")
    assert store.put(b"hello", "png") == (sha, location)
    assert store.read(location) == b"hello" and store.exists(location)
    assert [o.location for o in store.iter_locations()] == [location]
    assert stray_files(tmp_path) == []


def test_rewriting_an_old_file_makes_it_young_again(tmp_path):
    store = LocalStore(tmp_path)
    _, location = store.put(b"bytes")
    os.utime(location, (0, 0))
    [before] = store.iter_locations()
    store.put(b"bytes")
    [after] = store.iter_locations()
    assert before.modified.year == 1970 and after.modified > utc_now() - timedelta(hours=1)


def test_delete_respects_age_and_layout(tmp_path):
    store = LocalStore(tmp_path)
    _, location = store.put(b"x")
    cutoff = utc_now() - timedelta(hours=1)
    assert store.delete(location, if_older_than=cutoff) is False  # young: kept
    os.utime(location, (0, 0))
    assert store.delete(location, if_older_than=cutoff) is True
    assert not store.exists(location) and store.delete(location) is False
    with pytest.raises(ObjectMissing):
        store.read(location)
    outsider = tmp_path / "notes.txt"
    outsider.write_text("mine")
    with pytest.raises(ValueError):
        store.delete(str(outsider))  # only <sha[:2]>/<sha>… files are the store's
    assert outsider.exists()


def test_iteration_skips_files_outside_the_layout(tmp_path):
    store = LocalStore(tmp_path)
    _, location = store.put(b"x", "svg")
    (tmp_path / "README").write_text("not an image")
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "zz.png").write_bytes(b"")  # not a hex shard
    assert [o.location for o in store.iter_locations()] == [location]
    assert list(LocalStore(tmp_path / "never-created").iter_locations()) == []


def test_unwritable_store_raises_store_error(tmp_path):
    # The store's parent is a regular file: mkdir fails with ENOTDIR, root or not.
    (tmp_path / "home").write_text("a file where the directory should be")
    store = LocalStore(tmp_path / "home" / "images")
    with pytest.raises(StoreError) as info:
        store.put(b"png bytes")
    assert info.value.message == "Could not save the image: not a directory."
    assert info.value.code == "storage_failed" and info.value.http_status == 503
    assert str(tmp_path) not in info.value.message  # the user never sees server paths
    assert str(tmp_path) in info.value.detail  # the operator's log does
    with pytest.raises(StoreError, match="unavailable"):
        store.check()


def test_a_write_that_fails_midway_leaves_no_temporary_file(tmp_path):
    store = LocalStore(tmp_path / "images")
    store.check()
    data = os.urandom(256 * 1024)
    with file_size_limit(64 * 1024), pytest.raises(StoreError) as info:
        store.put(data)
    assert info.value.message == "Could not save the image: file too large."
    assert stray_files(tmp_path) == [] and list(store.iter_locations()) == []
    sha, location = store.put(data)  # the quota lifted, the same bytes store whole
    assert store.read(location) == data


def test_make_store_picks_the_backend(tmp_path):
    home = tmp_path / "home"
    local = make_store(Settings(home=home, _env_file=None))
    assert isinstance(local, LocalStore) and local.root == home / "images"
    shared = make_store(Settings(home=home, store_url=f"file://{tmp_path}/shared",
                                 _env_file=None))
    assert isinstance(shared, LocalStore) and shared.root == tmp_path / "shared"
    with pytest.raises(ValueError, match="TRIPTYCH_STORE_URL"):
        make_store(Settings(home=home, store_url="ftp://host/images", _env_file=None))
