"""The data directory, the SQLite database (with its -wal and -shm) and the web secret are
the running account's alone (``private_files.py``), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from triptych.client import Triptych
from triptych.private_files import private_dir
from triptych.settings import Settings
from triptych.web.config import load_or_create_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """An umask that would leave new files readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_install_is_private(tmp_path: Path, open_umask, fake_catalog) -> None:
    home = tmp_path / "new" / "home"
    tp = Triptych(Settings(home=home, _env_file=None), catalog=fake_catalog)
    with tp.db.begin() as conn:  # a write, so SQLite has made its -wal and -shm
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        db = home / "triptych.db"
        for path in (db, db.with_name("triptych.db-wal"), db.with_name("triptych.db-shm")):
            assert path.exists() and mode(path) == 0o600, (path, oct(mode(path)))
    tp.db.dispose()
    assert mode(home) == 0o700
    assert mode(home.parent) == 0o700  # Triptych made it too
    load_or_create_secret(home)
    assert mode(home / "web-secret") == 0o600


def test_an_existing_directory_is_left_as_the_operator_made_it(tmp_path: Path,
                                                               open_umask) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    private_dir(shared / "triptych")
    assert mode(shared) == 0o755 and mode(shared / "triptych") == 0o700


def test_a_database_others_could_read_is_narrowed(tmp_path: Path, open_umask,
                                                  fake_catalog) -> None:
    home = tmp_path / "home"
    Triptych(Settings(home=home, _env_file=None), catalog=fake_catalog).db.dispose()
    db = home / "triptych.db"
    db.chmod(0o644)  # as an older release left it
    Triptych(Settings(home=home, _env_file=None), catalog=fake_catalog).db.dispose()
    assert mode(db) == 0o600
