"""The CLI end to end: every verb, human and --json output, errors as JSON."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from triptych.cli import app as app_module
from triptych.cli.main import cli


@pytest.fixture
def run(tp, monkeypatch):
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_generate_prints_path_cost_and_time(run, tp):
    out = run("generate", "a red circle", "--model", "fake-general", "--seed", "3").output
    assert "Saved" in out and ".png" in out and "5 credits" in out and "45 credits left" in out


def test_generate_json_and_show_and_history(run):
    job = json.loads(run("generate", "a blue star", "-m", "fake-draft", "-n", "2",
                         "--json").output)
    assert job["status"] == "succeeded" and len(job["images"]) == 2 and job["cost"] == 2
    shown = json.loads(run("show", job["id"], "--json").output)
    assert shown["id"] == job["id"]
    assert job["id"][:8] in run("show", job["id"][:8]).output  # a prefix is enough
    history = json.loads(run("history", "star", "--json").output)
    assert [j["id"] for j in history] == [job["id"]]


def test_errors_are_json_with_a_code(run):
    result = run("generate", "a cat", "--model", "nope", "--json", ok=False)
    assert result.exit_code == 1
    error = json.loads(result.output)["error"]
    assert error["code"] == "invalid_request" and error["field"] == "model"
    result = run("generate", "a cat", "-m", "fake-premium", "-n", "4", "--json", ok=False)
    error = json.loads(result.output)["error"]
    assert (error["code"], error["needed"], error["available"]) == ("insufficient_credits",
                                                                    60, 50)


def test_credits_grant_plan_and_statement(run):
    run("credits", "grant", "local@localhost", "25", "--reason", "thanks for testing")
    credits = json.loads(run("credits", "--json").output)
    assert credits["available"] == 75 and credits["renews_on"] == "2026-04-01"
    assert credits["statement"][0]["memo"] == "thanks for testing"
    assert "renews on 2026-04-01" in run("credits").output
    pro = json.loads(run("credits", "plan", "local@localhost", "pro", "--json").output)
    assert pro["monthly_allowance"] > 50


def test_compare_and_rerender(run):
    out = json.loads(run("compare", "a green frog", "--models", "fake-draft,fake-general",
                         "--seed", "9", "--json").output)
    assert out["total_cost"] == 6 and out["sheet"].endswith(".png")
    draft = out["results"][0]
    final = json.loads(run("rerender", draft["id"], "--model", "fake-premium", "--json").output)
    assert final["seed"] == 9 and final["parent_job_id"] == draft["id"]


def test_recommend_and_models(run):
    out = json.loads(run("recommend", "a logo for a bakery", "--json").output)
    assert out["intents"][0]["id"] == "design"
    models = json.loads(run("models", "--tier", "instant", "--json").output)
    assert [m["id"] for m in models] == ["fake-draft"]


def test_users_and_ledger_verify(run):
    out = json.loads(run("users", "create", "admin2@example.com", "--admin", "--no-password",
                         "--json").output)
    assert out["role"] == "admin"
    assert json.loads(run("ledger", "verify", "--json").output) == {"ok": True, "problems": []}


def test_other_user_flag(run):
    run("generate", "a cat", "-m", "fake-draft", "--user", "bob@example.com")
    assert json.loads(run("history", "--json", "--user", "bob@example.com").output)
    assert json.loads(run("history", "--json").output) == []


def test_console_script_on_the_real_catalog(tmp_path):
    env = {**os.environ, "TRIPTYCH_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "triptych", "models", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ids = {m["id"] for m in json.loads(done.stdout)}
    assert {"flux-2-klein", "nano-banana-pro", "pico-turbo"} <= ids
    done = subprocess.run([sys.executable, "-m", "triptych", "generate", "a cat", "--model",
                           "flux-pro", "--json"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "model_unavailable" and "TRIPTYCH_BFL_API_KEY" in error["message"]


def test_generate_takes_model_options(run, fake_factory):
    from triptych.engines.options import OptionSpec

    fake_factory.options_by_target["fake-general"] = {
        "guidance": OptionSpec("number", "cfg", 0.0, 20.0),
        "style": OptionSpec("choice", "s", choices=("icon", "photo"))}
    job = json.loads(run("generate", "a red circle", "-m", "fake-general", "-o", "guidance=6",
                         "--option", "style=icon", "--json").output)
    assert job["options"] == {"guidance": 6, "style": "icon"}
    bad = run("generate", "a red circle", "-m", "fake-general", "-o", "guidance=60", "--json",
              ok=False)
    assert bad.exit_code == 1
    assert json.loads(bad.output)["error"]["field"] == "options.guidance"
    assert run("generate", "x", "-o", "guidance", ok=False).exit_code == 2  # not NAME=VALUE
