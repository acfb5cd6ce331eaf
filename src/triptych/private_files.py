"""Files only the account running Triptych may read: the data directory (0700 when Triptych
creates it), the SQLite database with its ``-wal`` and ``-shm`` files, and the web secret
(0600). The database holds password and API-key hashes and every prompt; the secret signs
forms. Created with these modes from the start (never created open and narrowed after), and
an existing database file readable by others is narrowed when Triptych opens it."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("triptych.files")

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700; a directory that exists is the
    operator's and is left as it is."""
    missing: list[Path] = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it first
            continue
        os.chmod(directory, DIR_MODE)  # the umask could have left it narrower than meant


def private_file(path: Path) -> None:
    """Make sure ``path`` exists and is 0600: created so when missing (SQLite then gives its
    ``-wal`` and ``-shm`` files the same mode), narrowed when others can read it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    narrow(path)


def narrow(path: Path) -> None:
    """Take group and other permissions off a file this account owns."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 and info.st_uid == os.getuid():
        os.chmod(path, mode & 0o700)
        log.warning("%s was readable by other accounts; it is now %o", path, mode & 0o700)


def private_sqlite(path: Path) -> None:
    """The database file and whatever SQLite keeps beside it."""
    private_dir(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        narrow(path.with_name(path.name + suffix))
