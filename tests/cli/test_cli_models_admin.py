"""``triptych models check`` / ``set-price`` / ``disable`` / ``enable`` / ``reset``,
``users create --admin`` with a password, ``keys create --monthly-cap``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from triptych.cli import app as app_module
from triptych.cli.main import cli
from triptych.web.config import WebConfig
from triptych.web.passwords import Passwords


@pytest.fixture
def run(tp, monkeypatch):
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, input: str | None = None):
        result = runner.invoke(cli, list(args), catch_exceptions=False, input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_models_check_reports_what_each_file_does(run, tmp_path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[model]]\nid = "flux-pro"\ncredits = 6\n\n'
                    '[[model]]\nid = "gpt-image-1"\nenabled = false\n')
    out = run("models", "check", str(good)).output
    assert "changes flux-pro: credits 5 -> 6" in out and "turns gpt-image-1 off" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[model]]\nid = "flux-pro"\ntier = "slow"\n')
    result = run("models", "check", str(good), str(bad), ok=False)
    assert result.exit_code == 1
    assert f"{bad}:3: model 'flux-pro', field 'tier'" in result.output
    data = json.loads(run("models", "check", str(bad), "--json", ok=False).output)
    assert data["ok"] is False and data["problems"][0]["line"] == 3


def test_models_check_uses_the_configured_files(run, tmp_path, monkeypatch) -> None:
    path = tmp_path / "ops.toml"
    path.write_text('[[model]]\nid = "flux-pro"\ndescription = "ours"\n')
    monkeypatch.setenv("TRIPTYCH_CATALOG", str(path))
    data = json.loads(run("models", "check", "--json").output)
    assert data["files"][0]["changed"]["flux-pro"]["description"]["new"] == "ours"
    monkeypatch.delenv("TRIPTYCH_CATALOG")
    assert "TRIPTYCH_CATALOG is unset" in run("models", "check").output


def test_set_price_disable_enable_reset_are_audited(run, tp) -> None:
    out = run("models", "set-price", "fake-general", "8").output
    assert "8 credits per image" in out and "keep their price" in out
    assert tp.submit("x", "fake-general")["cost"] == 8
    run("models", "disable", "fake-general")
    assert json.loads(run("models", "--json").output)[1]["available"] is False
    error = json.loads(run("generate", "x", "-m", "fake-general", "--json", ok=False).output)
    assert error["error"]["code"] == "model_unavailable"
    run("models", "enable", "fake-general")
    data = json.loads(run("models", "reset", "fake-general", "--json").output)
    assert (data["credits"], data["enabled"]) == (5, True)
    entries, _ = tp.admin.audit()
    assert [e["action"] for e in entries] == ["model.reset", "model.enable", "model.disable",
                                              "model.price"]
    assert all(e["actor"].startswith("cli:") for e in entries)


def test_acting_as_an_admin_account(run, tp) -> None:
    tp.accounts.create_user("first@example.com")  # the first account: an admin
    tp.accounts.create_user("someone@example.com")
    run("models", "set-price", "fake-draft", "2", "--as", "first@example.com")
    assert tp.admin.audit()[0][0]["actor"] == "first@example.com"
    result = run("models", "set-price", "fake-draft", "3", "--as", "someone@example.com",
                 ok=False)
    assert result.exit_code == 1 and "is not an admin" in result.output


def test_credits_grant_from_the_cli_is_audited(run, tp) -> None:
    run("credits", "grant", "pat@example.com", "20", "--reason", "pilot")
    [entry], _ = tp.admin.audit()
    assert (entry["action"], entry["target"], entry["new"], entry["note"]) == \
        ("credits.grant", "pat@example.com", 20, "pilot")


def test_users_create_admin_sets_a_password(run, tp) -> None:
    result = run("users", "create", "boss@example.com", "--admin", "--password-stdin",
                 "--json", input="correct horse battery\n")
    out = json.loads(result.output)
    assert out["role"] == "admin" and out["password"] is True
    found = tp.accounts.password_hash("boss@example.com")
    assert Passwords(WebConfig()).verify(found[1], "correct horse battery")
    # Prompted: hidden and typed twice (a mismatch asks again).
    result = run("users", "create", "ops@example.com", "--admin",
                 input="first try one\nsecond try\ncorrect horse\ncorrect horse\n")
    assert "do not match" in result.output.lower()
    assert Passwords(WebConfig()).verify(tp.accounts.password_hash("ops@example.com")[1],
                                         "correct horse")
    short = run("users", "create", "x@example.com", "--admin", "--password-stdin",
                input="short\n", ok=False)
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    common = run("users", "create", "y@example.com", "--admin", "--password-stdin",
                 input="password123\n", ok=False)  # the sign-up policy applies here too
    assert common.exit_code == 1 and "most common" in common.output
    run("users", "create", "plain@example.com")  # not an admin: no password unless asked
    assert tp.accounts.password_hash("plain@example.com")[1] is None


def test_keys_create_with_a_monthly_cap(run, tp) -> None:
    tp.accounts.create_user("dev@example.com")
    out = json.loads(run("keys", "create", "--user", "dev@example.com", "--monthly-cap",
                         "100", "--json").output)
    assert out["monthly_cap"] == 100
    bad = run("keys", "create", "--user", "dev@example.com", "--monthly-cap", "0", ok=False)
    assert bad.exit_code == 1 and "monthly spend cap" in bad.output


def test_audit_command_lists_and_filters(run, tp) -> None:
    assert "Nothing recorded yet" in run("audit").output
    run("models", "set-price", "fake-draft", "2")
    run("credits", "grant", "pat@example.com", "5", "--reason", "thanks")
    out = run("audit").output
    assert "Audit log (2 in all, newest first)" in out  # the columns fold at 80 wide
    data = json.loads(run("audit", "--action", "model.price", "--json").output)
    assert data["total"] == 1 and data["items"][0]["target"] == "fake-draft"
    data = json.loads(run("audit", "--target", "pat@example.com", "--json").output)
    assert [e["action"] for e in data["items"]] == ["credits.grant"]


def test_serve_refuses_a_bad_catalog_file_with_its_line(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "ops.toml"
    bad.write_text('[[model]]\nid = "flux-pro"\ncredits = "lots"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIPTYCH_CATALOG", str(bad))
    app_module._base.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    finally:
        app_module._base.cache_clear()
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "The catalog files (TRIPTYCH_CATALOG) have errors" in said
    assert "ops.toml:3: model 'flux-pro', field 'credits'" in said
