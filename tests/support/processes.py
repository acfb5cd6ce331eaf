"""Real processes for the service-tier tests: a private Redis, `triptych serve` and
`triptych worker`, each with its own log file, killed with SIGKILL when a test says so."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.ports import free_port

TRIPTYCH = str(Path(sys.executable).parent / "triptych")
COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"


def compose_command(service: str) -> list[str]:
    """The `triptych` arguments a service of deploy/compose.yaml runs, so the multi-process
    tests run exactly what a deployment runs (ports are chosen afresh, and the API listens on
    127.0.0.1 only)."""
    import yaml

    argv = list(yaml.safe_load(COMPOSE.read_text())["services"][service]["command"])
    for flag, value in (("--host", "127.0.0.1"), ("--port", None), ("--metrics-port", None)):
        if flag in argv:
            argv[argv.index(flag) + 1] = value or str(free_port())
    return argv


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=handle,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill9(self) -> None:
        """SIGKILL the whole process group: no cleanup runs, as when a machine dies."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self, timeout: float = 30) -> int | None:
        if not self.alive():
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None


def redis_server(port: int, log_dir: Path) -> Proc:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = Proc(f"redis-{port}", [binary, "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"], dict(os.environ), log_dir)
    proc.start()
    wait_for(lambda: _answers(port), 20, f"redis on {port}")
    return proc


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def serve(name: str, port: int, env: dict[str, str], log_dir: Path,
          argv: list[str] | None = None) -> Proc:
    """`triptych serve` (``argv``: its arguments, e.g. a compose service's; ``port`` wins)."""
    args = list(argv or ["serve", "--host", "127.0.0.1", "--port", str(port)])
    args[args.index("--port") + 1] = str(port)
    proc = Proc(name, [TRIPTYCH, *args], env, log_dir).start()
    wait_answering(proc, port, 90)
    return proc


def wait_answering(proc: Proc, port: int, timeout: float) -> None:
    """Until ``proc`` answers HTTP on ``port`` (below 500); its log if it exits first."""
    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.text()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout, proc.name)


def worker(name: str, models: str | list[str], env: dict[str, str], log_dir: Path,
           concurrency: int | None = None, wait: bool = True) -> Proc:
    """`triptych worker --models MODELS`, or with ``models`` a list: those exact arguments
    (a compose service's command)."""
    if isinstance(models, list):
        argv = [TRIPTYCH, *models]
    else:
        argv = [TRIPTYCH, "worker", "--models", models, "--name", f"{name}@test"]
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
    proc = Proc(name, argv, env, log_dir).start()
    if wait:
        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{proc.text()[-3000:]}")
            return " ready." in proc.text()

        wait_for(ready, 90, name)
    return proc


def serve_source(home: Path, settings: dict[str, str] | None = None,
                 name: str = "serve") -> tuple[Proc, int]:
    """`python -m triptych serve` from the source tree the tests import (PYTHONPATH set to
    it), on a free port, with no TRIPTYCH_* setting but ``home`` and ``settings`` (and no
    warm-up): a server exactly as an operator runs it, uvicorn's defaults included."""
    import triptych

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIPTYCH_")}
    src = str(Path(triptych.__file__).parents[1])
    env.update(TRIPTYCH_HOME=str(home), TRIPTYCH_WARM_UP="false",
               PYTHONPATH=os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p),
               **(settings or {}))
    port = free_port()
    proc = Proc(name, [sys.executable, "-m", "triptych", "serve", "--host", "127.0.0.1",
                       "--port", str(port), "--log-level", "warning"], env, home).start()
    wait_answering(proc, port, 120)
    return proc, port
