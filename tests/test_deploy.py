"""deploy/: the processes a deployment runs, with the settings they need; docs/deploy.md:
the settings it documents exist, with the defaults it states.

The compose file is checked twice: as YAML (always), and as compose itself resolves it with
``docker compose config`` / ``docker-compose config`` (scripts/setup.sh installs the latter
where neither exists; no Docker daemon is needed for ``config``)."""

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from triptych.cli.main import cli
from triptych.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
TRIPTYCH_SERVICES = {"api-1", "api-2", "worker-builtin", "worker-hosted"}
COMMANDS = {
    "api-1": ["serve", "--host", "0.0.0.0", "--port", "8000"],
    "api-2": ["serve", "--host", "0.0.0.0", "--port", "8001"],
    "worker-builtin": ["worker", "--models", "builtin", "--concurrency", "8",
                       "--metrics-port", "9100"],
    "worker-hosted": ["worker", "--models", "hosted", "--concurrency", "32",
                      "--metrics-port", "9100"],
}


def check_services(services: dict) -> None:
    assert {"postgres", "redis"} <= set(services)
    assert TRIPTYCH_SERVICES <= set(services)
    for name in TRIPTYCH_SERVICES:
        service = services[name]
        assert [str(part) for part in service["command"]] == COMMANDS[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        env = service["environment"]
        assert env["TRIPTYCH_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["TRIPTYCH_DATABASE_URL"]
        assert env["TRIPTYCH_BROKER_URL"].startswith("redis://redis:")
        assert env["TRIPTYCH_STORE_URL"].startswith("s3://")
        assert env["TRIPTYCH_S3_ENDPOINT_URL"] and env["AWS_SECRET_ACCESS_KEY"]
    for name in ("api-1", "api-2"):
        assert services[name]["environment"]["TRIPTYCH_WEB_SECRET"]  # shared by both
    # every process but the first API waits until it has migrated the schema
    for name in TRIPTYCH_SERVICES - {"api-1"}:
        assert services[name]["depends_on"]["api-1"]["condition"] == "service_healthy"
    assert services["api-1"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["api-1"]["healthcheck"]["test"])
    assert services["worker-builtin"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]


def test_compose_file_structure():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    # the YAML leaves the required secret to interpolation
    secrets = [services[name]["environment"]["TRIPTYCH_WEB_SECRET"] for name in ("api-1", "api-2")]
    assert all("TRIPTYCH_WEB_SECRET:?" in secret for secret in secrets)
    check_services(services)


def test_the_serve_commands_parse_with_this_cli():
    for name in ("api-1", "api-2"):
        result = CliRunner().invoke(cli, [*COMMANDS[name], "--help"])
        assert result.exit_code == 0, result.output


def test_dockerfile_pins_the_same_torch_and_installs_the_emoji_font():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    pins = [d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
            ["dependencies"] if d.startswith("torch")]
    assert pins and f"{pins[0]}" in dockerfile
    assert "download.pytorch.org/whl/cpu" in dockerfile
    assert "fonts-noto-color-emoji" in dockerfile
    assert (ROOT / "deploy" / "Dockerfile.dockerignore").exists()


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"],
                                 capture_output=True).returncode == 0:
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if os.environ.get("CI"):
        raise AssertionError("no docker compose: scripts/setup.sh installs docker-compose")
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRIPTYCH_")}
    return subprocess.run([*compose_command(), "-f", str(COMPOSE), "config"],
                          capture_output=True, text=True, env={**clean, **env}, timeout=120)


def test_compose_config_resolves_the_file():
    result = compose_config({"TRIPTYCH_WEB_SECRET": "a-long-random-string",
                             "TRIPTYCH_FAL_API_KEY": "fal-key"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    check_services(services)
    assert services["api-1"]["environment"]["TRIPTYCH_WEB_SECRET"] == "a-long-random-string"
    hosted_env = services["worker-hosted"]["environment"]
    assert hosted_env["TRIPTYCH_FAL_API_KEY"] == "fal-key"  # passed through when set
    assert not hosted_env.get("TRIPTYCH_BFL_API_KEY")  # and absent when not


def test_compose_refuses_to_start_without_the_web_secret():
    result = compose_config({})
    assert result.returncode != 0
    assert "TRIPTYCH_WEB_SECRET" in result.stderr


# Read by the HTTP layer rather than ``Settings`` (web/config.py, web/routes_ops.py).
WEB_VARIABLES = {"TRIPTYCH_WEB_SECRET", "TRIPTYCH_SECURE_COOKIES", "TRIPTYCH_METRICS_TOKEN"}
MUST_BE_DOCUMENTED = {
    "TRIPTYCH_DATABASE_URL", "TRIPTYCH_BROKER_URL", "TRIPTYCH_REDIS_URL",
    "TRIPTYCH_STORE_URL", "TRIPTYCH_S3_ENDPOINT_URL", "TRIPTYCH_JOB_LEASE_SECONDS",
    "TRIPTYCH_SWEEP_INTERVAL_SECONDS", "TRIPTYCH_REQUEUE_AFTER_SECONDS",
    "TRIPTYCH_QUEUE_DEADLINE_SECONDS", "TRIPTYCH_MAX_JOBS_IN_FLIGHT", "TRIPTYCH_WEB_SECRET",
    "TRIPTYCH_METRICS_TOKEN",
}


def test_deploy_doc_settings_exist_with_the_stated_defaults():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    rows = re.findall(r"^\| `(TRIPTYCH_[A-Z0-9_]+)`(?:, `(TRIPTYCH_[A-Z0-9_]+)`)? \| ([^|]*) \|",
                      doc, flags=re.MULTILINE)
    documented = {name for row in rows for name in row[:2] if name}
    assert MUST_BE_DOCUMENTED <= documented
    fields = Settings.model_fields
    for first, second, default in rows:
        for name in (first, second):
            if not name or name in WEB_VARIABLES:
                continue
            field = name.removeprefix("TRIPTYCH_").lower()
            assert field in fields, f"{name} in docs/deploy.md is not a setting"
            if re.fullmatch(r"\d+(\.\d+)?", default.strip()):
                assert float(default) == fields[field].default, name
