"""``triptych serve`` is registered; migration 0002 applies and reverts; the HTTP layer works
on PostgreSQL too (skipped when no server is running)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from tests.web.conftest import fast_config, wait_job
from triptych.db import engine as db_engine
from triptych.web.app import create_app


def test_serve_command_is_registered():
    from triptych.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def test_migration_0002_up_and_down(tp):
    tables = set(inspect(tp.db).get_table_names())
    assert {"api_keys", "web_sessions"} <= tables
    config = Config()
    config.set_main_option("script_location", str(db_engine._MIGRATIONS))
    with tp.db.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert not {"api_keys", "web_sessions"} & set(inspect(tp.db).get_table_names())
    db_engine.migrate(tp.db)
    assert {"api_keys", "web_sessions"} <= set(inspect(tp.db).get_table_names())


def test_signup_key_and_generate_on_postgres(pg_tp):
    with TestClient(create_app(pg_tp, fast_config())) as client:
        signup = client.post("/v1/auth/signup",
                             json={"email": "pg@example.com", "password": "password-1"})
        assert signup.status_code == 201
        key = client.post("/v1/keys", json={"name": "pg"},
                          headers={"X-CSRF-Token": signup.json()["csrf_token"]}).json()["key"]
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {key}"}
        job = client.post("/v1/generations", json={"prompt": "x", "model": "fake-general"},
                          headers=headers).json()
        assert wait_job(client, headers, job["id"])["status"] == "succeeded"
        assert client.get("/v1/credits", headers=headers).json()["available"] == 45
