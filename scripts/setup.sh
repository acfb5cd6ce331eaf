#!/usr/bin/env bash
# Installs everything Triptych needs on a fresh Debian machine: system packages (emoji font
# for the built-in world, Chromium for the browser tests, docker-compose for the deployment
# file's test) and a .venv with the project.
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need_apt+=(fonts-noto-color-emoji)
if [ "${TRIPTYCH_SKIP_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
fi
# `docker compose config` validates deploy/compose.yaml in the tests (no daemon needed);
# Debian's docker-compose stands in where the compose plugin is missing.
if ! { command -v docker >/dev/null && docker compose version >/dev/null 2>&1; } \
    && ! command -v docker-compose >/dev/null; then
  need_apt+=(docker-compose)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.triptych-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  # torch first and pinned: a looser requirement pulls a multi-GB CUDA build.
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi
