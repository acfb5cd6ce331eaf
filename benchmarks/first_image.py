"""The first image after `triptych serve` starts, against the second, with the built-in
models warmed at start (TRIPTYCH_WARM_UP, the default) and without, side by side in one run.

Each setup is a fresh data directory and a real `triptych serve` process on 127.0.0.1. The
clock starts when /readyz answers 200 (what a load balancer or a person waits for); then one
pico-turbo image, a second one, and a first compare of three built-in models are timed end
to end over HTTP (submit, then the job's status until it is final).

    .venv/bin/python benchmarks/first_image.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).with_name("triptych")
COMPARE = ["pico-turbo", "pico-diffusion", "pico-dit"]
ENGINE_SECONDS: list[float] = []  # the model's own time of each image, as the job reports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_final(client: httpx.Client, path: str, done) -> dict:
    while True:
        body = client.get(path).json()
        if done(body):
            return body
        time.sleep(0.02)


def generate(client: httpx.Client, prompt: str, seed: int) -> float:
    started = time.perf_counter()
    reply = client.post("/v1/generations", json={"prompt": prompt, "model": "pico-turbo",
                                                 "seed": seed})
    assert reply.status_code == 202, reply.text
    job = reply.json()
    final = wait_final(client, f"/v1/jobs/{job['id']}",
                       lambda j: j["status"] in ("succeeded", "failed", "canceled"))
    assert final["status"] == "succeeded", final
    ENGINE_SECONDS.append(final["seconds"])
    return time.perf_counter() - started


def compare(client: httpx.Client) -> float:
    started = time.perf_counter()
    reply = client.post("/v1/compare", json={"prompt": "a red circle and a blue square",
                                             "models": COMPARE, "seed": 2})
    assert reply.status_code == 202, reply.text
    sheet = reply.json()
    final = wait_final(client, f"/v1/compare/{sheet['id']}",
                       lambda c: c["status"] == "done")
    assert all(j["status"] == "succeeded" for j in final["jobs"]), final
    return time.perf_counter() - started


def run(warm: bool) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="triptych-first-"))
    env = {**os.environ, "TRIPTYCH_HOME": str(home), "TRIPTYCH_WARM_UP": "1" if warm else "0",
           "TRIPTYCH_RATE_PER_MINUTE": "100000", "TRIPTYCH_RATE_BURST": "10000"}  # we poll
    env.pop("TRIPTYCH_DATABASE_URL", None)
    env.pop("TRIPTYCH_BROKER_URL", None)
    subprocess.run([str(BIN), "credits", "grant", "bench@example.com", "1000", "--reason",
                    "benchmark"], env=env, check=True, capture_output=True)  # creates it
    key = subprocess.run([str(BIN), "keys", "create", "--user", "bench@example.com"],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen([str(BIN), "serve", "--port", str(port), "--log-level",
                               "warning"], env=env, stdout=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            ready = time.perf_counter() - started
            ENGINE_SECONDS.clear()
            first = generate(client, "two red hearts and a star", 1)
            second = generate(client, "two red hearts and a star", 2)
            engine = list(ENGINE_SECONDS)
            first_compare = compare(client)
        return {"ready": ready, "first": first, "second": second, "compare": first_compare,
                "engine1": engine[0], "engine2": engine[1]}
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    results = {"warm-up on": run(True), "warm-up off": run(False)}
    print("seconds, end to end over HTTP (in brackets: the model's own time)")
    print(f"{'':<12} {'ready':>7} {'1st image':>17} {'2nd image':>17} {'1st/2nd':>8} "
          f"{'1st compare of 3':>17}")
    for name, r in results.items():
        first = f"{r['first']:.3f} ({r['engine1']:.3f})"
        second = f"{r['second']:.3f} ({r['engine2']:.3f})"
        print(f"{name:<12} {r['ready']:>7.2f} {first:>17} {second:>17} "
              f"{r['first'] / r['second']:>8.2f} {r['compare']:>17.3f}")


if __name__ == "__main__":
    main()
