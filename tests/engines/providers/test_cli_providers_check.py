"""``triptych providers check [--json]`` against fake providers: ok, bad key, not configured."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from provider_fakes import KEY, FakeBfl, FakeGemini, FakeOpenAI, FakeServer, FakeXai, Resp

from triptych.cli.main import cli
from triptych.settings import PROVIDERS


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path, main_server: FakeServer,
        alt_server: FakeServer) -> FakeServer:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    for p in PROVIDERS:
        monkeypatch.delenv(f"TRIPTYCH_{p.upper()}_API_KEY", raising=False)
        monkeypatch.delenv(f"TRIPTYCH_{p.upper()}_BASE_URL", raising=False)
    FakeOpenAI(main_server, alt_server)
    FakeBfl(main_server, alt_server)
    monkeypatch.setenv("TRIPTYCH_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("TRIPTYCH_OPENAI_BASE_URL", main_server.url)
    monkeypatch.setenv("TRIPTYCH_BFL_API_KEY", KEY)
    monkeypatch.setenv("TRIPTYCH_BFL_BASE_URL", main_server.url)
    return main_server


def test_check_json_reports_each_provider(env: FakeServer) -> None:
    result = CliRunner().invoke(cli, ["providers", "check", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["provider"]: r for r in json.loads(result.output)["providers"]}
    assert set(rows) == set(PROVIDERS)
    assert rows["openai"]["status"] == "ok" and rows["bfl"]["status"] == "ok"
    for p in set(PROVIDERS) - {"openai", "bfl"}:
        assert rows[p]["status"] == "not_configured"
    # free calls only: nothing was generated
    assert [c.method for c in env.calls] == ["GET", "GET"]
    assert KEY not in result.output


def test_bad_key_fails_the_check_without_echoing_it(env: FakeServer) -> None:
    env.route("GET", r"/v1/models", Resp(401, json={"error": {"message": f"bad key {KEY}"}}))
    result = CliRunner().invoke(cli, ["providers", "check", "--json", "--provider", "openai"])
    assert result.exit_code == 1
    [row] = json.loads(result.output)["providers"]
    assert row["status"] == "auth_failed"
    assert KEY not in result.output


def test_bad_keys_answered_with_400_are_auth_failed(
        env: FakeServer, alt_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # xAI and Gemini say "wrong key" with a 400, each in its own documented shape.
    FakeXai(alt_server, env)  # on the second host: its /v1/models would shadow OpenAI's
    FakeGemini(env, alt_server)
    for provider, server in (("xai", alt_server), ("gemini", env)):
        monkeypatch.setenv(f"TRIPTYCH_{provider.upper()}_API_KEY", KEY)
        monkeypatch.setenv(f"TRIPTYCH_{provider.upper()}_BASE_URL", server.url)
    alt_server.route("GET", r"/v1/models", Resp(400, json={
        "code": "Client specified an invalid argument",
        "error": "Incorrect API key provided: sk***90. You can obtain an API key from "
                 "https://console.x.ai."}))
    env.route("GET", r"/v1beta/models(\?.*)?", Resp(400, json={"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}))
    result = CliRunner().invoke(cli, ["providers", "check", "--json", "--provider", "xai",
                                      "--provider", "gemini"])
    assert result.exit_code == 1
    rows = {r["provider"]: r["status"] for r in json.loads(result.output)["providers"]}
    assert rows == {"xai": "auth_failed", "gemini": "auth_failed"}
    assert KEY not in result.output


def test_table_output(env: FakeServer) -> None:
    result = CliRunner().invoke(cli, ["providers", "check"])
    assert result.exit_code == 0, result.output
    assert "not configured" in result.output and "openai" in result.output


def test_out_of_credit_and_wrong_base_url_are_told_apart(env: FakeServer) -> None:
    env.route("GET", r"/v1/models", Resp(429, json={"error": {
        "message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}}))
    env.route("GET", r"/v1/get_result.*", Resp(502, body=b"bad gateway"))
    result = CliRunner().invoke(cli, ["providers", "check", "--json", "--provider", "openai",
                                      "--provider", "bfl"])
    assert result.exit_code == 1
    rows = {r["provider"]: r["status"] for r in json.loads(result.output)["providers"]}
    assert rows == {"openai": "out_of_credit", "bfl": "unreachable"}
