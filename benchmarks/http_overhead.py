"""What the HTTP stack adds to one image: ``POST /v1/images/generations`` through real uvicorn
on 127.0.0.1 and a real HTTP client (auth, rate limit, JSON, executor hand-off, base64),
against the in-process service call ``Triptych.generate`` — same database, same fixed-image
engine (a constant 64×64 PNG), measured side by side in one run.

    .venv/bin/python benchmarks/http_overhead.py [--requests 300] [--concurrency 1]

The server runs in a forked child process (its own interpreter lock), the client here.
Prints requests/second and p50/p99 latency for both paths, and the ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fixed_engine import CARD, FixedFactory

from triptych.catalog.loader import Catalog
from triptych.client import Triptych
from triptych.db.models import User
from triptych.engines import registry
from triptych.settings import Settings

EMAIL = "bench@example.com"


def make_tp(home: Path) -> Triptych:
    registry.register("bench", FixedFactory())
    settings = Settings(home=home, _env_file=None, max_jobs_in_flight=1000)
    return Triptych(settings, catalog=Catalog([CARD]))


def serve(home: Path, port: int, workers: int) -> None:
    import uvicorn

    from triptych.web.app import create_app
    from triptych.web.config import WebConfig

    config = WebConfig(secret_key="bench", rate_per_minute=1e9, rate_burst=10**9,
                       workers=workers)
    uvicorn.run(create_app(make_tp(home), config), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(call, count: int, concurrency: int) -> tuple[float, list[float]]:
    def one(_: int) -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    start = time.perf_counter()
    if concurrency == 1:
        latencies = [one(i) for i in range(count)]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(one, range(count)))
    return time.perf_counter() - start, latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="server executor threads")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="triptych-http-bench-"))
    tp = make_tp(home)
    user = tp.as_user(EMAIL)
    from triptych.web import keys as keys_mod

    with tp.ctx.sessions.begin() as s:
        _, secret = keys_mod.create_key(s, s.get(User, user.user_id), "bench", tp.ctx.clock())
    tp.grant(EMAIL, 10 * args.requests + 100, reason="benchmark")

    # In-process: the service call every interface ends in.
    for _ in range(10):
        user.generate("a red square", "fixed")
    local_total, local = timed(lambda: user.generate("a red square", "fixed"), args.requests,
                               args.concurrency)

    # Over HTTP: a forked uvicorn, the client here.
    tp.db.dispose()  # no pooled SQLite connection crosses the fork
    port = free_port()
    child = multiprocessing.get_context("fork").Process(
        target=serve, args=(home, port, args.workers), daemon=True)
    child.start()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"prompt": "a red square", "model": "fixed", "response_format": "b64_json"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60,
                          limits=httpx.Limits(max_connections=args.concurrency + 2)) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/openapi.json").raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

            def post() -> None:
                r = http.post("/v1/images/generations", json=body)
                r.raise_for_status()
                assert r.headers["x-triptych-credits-charged"] == "1"

            for _ in range(10):
                post()
            http_total, remote = timed(post, args.requests, args.concurrency)
    finally:
        child.terminate()
        child.join(10)

    lp50, lp99 = percentiles(local)
    hp50, hp99 = percentiles(remote)
    lrps, hrps = args.requests / local_total, args.requests / http_total
    print(f"{args.requests} images of 64x64, concurrency {args.concurrency}, "
          f"{os.cpu_count()} CPUs, SQLite, server executor threads {args.workers}")
    print(f"{'path':<34}{'req/s':>9}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'in-process Triptych.generate':<34}{lrps:>9.1f}{lp50 * 1e3:>10.2f}"
          f"{lp99 * 1e3:>10.2f}")
    print(f"{'HTTP /v1/images/generations':<34}{hrps:>9.1f}{hp50 * 1e3:>10.2f}"
          f"{hp99 * 1e3:>10.2f}")
    print(f"ratio HTTP/in-process: p50 latency x{hp50 / lp50:.2f}, p99 x{hp99 / lp99:.2f}, "
          f"throughput x{hrps / lrps:.2f}; HTTP adds {1e3 * (hp50 - lp50):.2f} ms at p50")


if __name__ == "__main__":
    main()
