"""A SQLite database locked by another process: the CLI says so plainly (or as JSON) and
exits 1, instead of a traceback."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from triptych.cli import app as app_module
from triptych.cli.main import cli
from triptych.settings import Settings

MESSAGE = "The database is busy; retry in a few seconds."


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", sqlite_busy_seconds=0.2, _env_file=None)


def test_a_locked_database_is_a_clear_error(tp, monkeypatch):
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    runner = CliRunner()
    tp.credits()  # the local account exists
    locker = sqlite3.connect(tp.settings.home / "triptych.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        human = runner.invoke(cli, ["credits"], catch_exceptions=False)
        assert human.exit_code == 1 and MESSAGE in human.output
        assert "Traceback" not in human.output
        as_json = runner.invoke(cli, ["credits", "--json"], catch_exceptions=False)
        assert as_json.exit_code == 1
        assert json.loads(as_json.output) == {"error": {"code": "database_busy",
                                                        "message": MESSAGE}}
    finally:
        locker.rollback()
        locker.close()
    assert json.loads(runner.invoke(cli, ["credits", "--json"]).output)["available"] == 50
