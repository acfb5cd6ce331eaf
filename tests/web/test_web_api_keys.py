"""API keys: shown once, hashed with a visible prefix, revocable, last-used time; CLI too."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from triptych.db.auth_models import ApiKey


def test_create_list_use_revoke(client, tp, alice):
    r = client.post("/v1/keys", json={"name": "ci"}, headers=alice)
    assert r.status_code == 201
    created = r.json()
    secret = created["key"]
    assert secret.startswith(created["prefix"] + "_") and len(secret) > 40
    with tp.ctx.sessions.begin() as s:
        row = s.get(ApiKey, created["id"])
        assert row.key_hash != secret and secret not in row.key_hash and len(row.key_hash) == 64

    listed = client.get("/v1/keys", headers=alice).json()
    assert {k["id"] for k in listed} >= {created["id"]}
    assert all("key" not in k for k in listed)

    mine = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/credits", headers=mine).status_code == 200
    used = next(k for k in client.get("/v1/keys", headers=mine).json() if k["id"] == created["id"])
    assert used["last_used_at"] is not None

    assert client.delete(f"/v1/keys/{created['id']}", headers=alice).status_code == 204
    assert client.get("/v1/credits", headers=mine).status_code == 401
    assert client.delete(f"/v1/keys/{created['id']}", headers=alice).status_code == 404
    assert created["id"] not in {k["id"] for k in client.get("/v1/keys", headers=alice).json()}


def test_keys_are_private(client, alice, bob):
    key = client.post("/v1/keys", json={}, headers=alice).json()
    assert key["id"] not in {k["id"] for k in client.get("/v1/keys", headers=bob).json()}
    r = client.delete(f"/v1/keys/{key['id']}", headers=bob)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key['key']}"}).json()[
        "email"] == "alice@example.com"


def test_key_create_rejects_extra_fields(client, alice):
    r = client.post("/v1/keys", json={"name": "x", "user_id": 1}, headers=alice)
    assert r.status_code == 422 and r.json()["error"]["field"] == "user_id"


def test_cli_keys_create_list_revoke(tmp_path, monkeypatch):
    from triptych.cli import app as cli_app
    from triptych.cli.main import cli

    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path / "clihome"))
    cli_app._base.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(cli, ["users", "create", "ops@example.com"]).exit_code == 0
        made = runner.invoke(cli, ["keys", "create", "--user", "ops@example.com", "--json"])
        assert made.exit_code == 0, made.output
        key = json.loads(made.output)
        assert key["key"].startswith("tpk_")
        plain = runner.invoke(cli, ["keys", "create", "--user", "ops@example.com"])
        assert plain.stdout.strip().startswith("tpk_")
        listed = json.loads(runner.invoke(cli, ["keys", "list", "--user", "ops@example.com",
                                                "--json"]).output)
        assert len(listed) == 2 and all("key" not in k for k in listed)
        revoked = runner.invoke(cli, ["keys", "revoke", key["id"], "--user", "ops@example.com"])
        assert revoked.exit_code == 0
        tp = cli_app.app()
        with tp.ctx.sessions.begin() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.id == key["id"]))
            assert row.revoked_at is not None
        missing = runner.invoke(cli, ["keys", "create", "--user", "nobody@example.com"])
        assert missing.exit_code == 1
    finally:
        cli_app._base.cache_clear()
