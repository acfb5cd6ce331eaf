"""``triptych users plan EMAIL PLAN``: any plan of the install's plans, clear refusals."""

import json

import pytest
from click.testing import CliRunner

from triptych.cli import app as app_module
from triptych.cli.main import cli


@pytest.fixture
def run(tp, monkeypatch):
    monkeypatch.setattr(app_module, "_base", lambda: tp)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_users_plan_up_and_down(run):
    run("users", "create", "ann@example.com")
    out = run("users", "plan", "ann@example.com", "pro").output
    assert "on the Pro plan" in out and "500 a month" in out
    down = json.loads(run("users", "plan", "ann@example.com", "free", "--json").output)
    assert down["plan"] == "free" and down["allowance"] == 500  # kept to month end
    bad = run("users", "plan", "ann@example.com", "gold", "--json", code=1).output
    assert "Unknown plan 'gold'" in bad
    missing = run("users", "plan", "nobody@example.com", "pro", code=1).output
    assert "No account for nobody@example.com" in missing


def test_plans_lists_plans_and_packs(run):
    out = json.loads(run("plans", "--json").output)
    assert [p["id"] for p in out["plans"]] == ["free", "pro"] and not out["payments_on"]
    assert {p["id"] for p in out["packs"]} == {"small", "large"}
    text = run("plans").output
    assert "Payments are off" in text and "pro" in text
    assert json.loads(run("payments", "list", "--json").output) == []
