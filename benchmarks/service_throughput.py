"""The service tier under load, side by side in one run (real processes on 127.0.0.1,
PostgreSQL at TRIPTYCH_BENCH_PG_URL or the local server, a private Redis as the broker):

1. pico-turbo jobs end to end over HTTP (submit, then wait on the job's event stream):
   the embedded executor inside `triptych serve`, vs one `triptych worker` process, vs two;
2. jobs against a fake provider answering after 1 s, many at once through one hosted
   worker: jobs/s, and p50/p99 of the submit call (POST /v1/generations) under that load.

    .venv/bin/python benchmarks/service_throughput.py [--turbo-jobs 80] [--n 4]
        [--worker-concurrency 1]
        [--hosted-jobs 200] [--concurrency 64] [--rounds 3] [--apis 1]
        [--brokers redis,rabbitmq]

Each measurement runs ``--rounds`` times, after a round that warms the processes up (pooled
connections, prepared statements) and is not counted; the medians are reported with every
round's value. The three pico-turbo setups run side by side and take turns, so a shared
machine whose speed drifts slows them alike. The clients are threads spread over
``--client-procs`` processes (4), each on a keep-alive ``http.client`` connection: in one
process 64 client threads queue for its interpreter lock, and that wait would count as the
service's. Prints jobs/s for each setup and the ratios, and the CPU each process spent, the
database and broker servers' included (they share the cores); from that CPU, the most that two
workers could gain over one on this machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engines" / "providers")]

from provider_fakes import KEY, FakeServer, Resp, b64, png_bytes  # noqa: E402
from tests.support import processes as procs  # noqa: E402

from triptych.client import Triptych  # noqa: E402
from triptych.settings import Settings  # noqa: E402

PG = os.environ.get("TRIPTYCH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Setup:
    """A database schema, a store, a broker and the processes of one configuration."""

    def __init__(self, name: str, broker: str | None, provider_url: str, users: int,
                 apis: int = 1, redis: str | None = None) -> None:
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(PG, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        url = f"{PG}?options=-csearch_path%3D{self.schema}"
        self.env = {**os.environ, "TRIPTYCH_HOME": str(self.dir / "home"),
                    "TRIPTYCH_DATABASE_URL": url, "TRIPTYCH_TORCH_THREADS": "1",
                    "TRIPTYCH_MAX_JOBS_IN_FLIGHT": "1000", "TRIPTYCH_OPENAI_API_KEY": KEY,
                    "TRIPTYCH_OPENAI_BASE_URL": provider_url, "TRIPTYCH_WEB_SECRET": "bench",
                    # the limiter still runs on every request (its cost is measured), but a
                    # long run must not be refused: a key sends hundreds of requests a minute
                    "TRIPTYCH_RATE_PER_MINUTE": "1000000", "TRIPTYCH_RATE_BURST": "100000"}
        if broker:
            self.env["TRIPTYCH_BROKER_URL"] = broker
        else:
            self.env.pop("TRIPTYCH_BROKER_URL", None)
        if redis:  # progress events and rate limits, when the broker is not Redis
            self.env["TRIPTYCH_REDIS_URL"] = redis
        tp = Triptych(Settings(home=self.dir / "home", database_url=url, _env_file=None))
        from tests.web.conftest import make_key

        self.keys = []
        for i in range(users):  # one key per client thread: per-key rate limits stay out
            email = f"bench{i}@example.com"
            self.keys.append(make_key(tp, email))
            tp.grant(email, 100_000, reason="benchmark")
        tp.db.dispose()
        self.ports = [procs.free_port() for _ in range(apis)]
        self.procs: list[procs.Proc] = []

    def start(self, workers: list[tuple[str, int]]) -> None:
        self.procs = [procs.worker(f"{self.name}-w{i}", models, self.env, self.dir,
                                   concurrency=c, wait=False)
                      for i, (models, c) in enumerate(workers)]
        workers_started = len(self.procs)
        self.procs += [procs.serve(f"{self.name}-api{i}", port, self.env, self.dir)
                       for i, port in enumerate(self.ports)]
        for proc in self.procs[:workers_started]:
            procs.wait_for(lambda p=proc: " ready." in p.text(), 120, proc.name)
        for port in self.ports:  # /readyz: the recommender's model loaded, not measured here
            procs.wait_for(lambda port=port: httpx.get(f"http://127.0.0.1:{port}/readyz",
                                                       timeout=5).status_code == 200,
                           120, f"{self.name} /readyz")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate(10)
        with create_engine(PG, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))


class LightClient:
    """One keep-alive HTTP/1.1 connection on the standard library's ``http.client``: the
    load generator shares the cores with the service, and httpx spends about 12 ms of CPU
    per job here (submit plus event stream), which the service's processes would lose."""

    def __init__(self, base: str, headers: dict) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=300)
        self.headers = {**headers, "Content-Type": "application/json"}

    def post(self, path: str, body: dict) -> dict:
        self.conn.request("POST", path, json.dumps(body), self.headers)
        reply = self.conn.getresponse()
        data = reply.read()
        if reply.status >= 400:
            raise RuntimeError(f"POST {path}: {reply.status} {data[:300]!r}")
        return json.loads(data)

    def final_status(self, path: str) -> str:
        """Follow an event stream to its ``done`` event; the job's final status."""
        self.conn.request("GET", path, headers=self.headers)
        reply = self.conn.getresponse()
        if reply.status >= 400:
            raise RuntimeError(f"GET {path}: {reply.status} {reply.read()[:300]!r}")
        event, status = None, ""
        while line := reply.readline():
            line = line.decode().rstrip("\r\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "done":
                status = json.loads(line.removeprefix("data: "))["status"]
        reply.read()  # to the end of the chunked body: the connection is reused
        return status

    def close(self) -> None:
        self.conn.close()


def run_job(client: LightClient, body: dict) -> tuple[float, str, float]:
    """Submit, then follow the event stream to the end; (submit seconds, final status,
    seconds from submit to the stream's end)."""
    t0 = time.perf_counter()
    job = client.post("/v1/generations", body)
    submit = time.perf_counter() - t0
    status = client.final_status(job["events_url"])
    return submit, status, time.perf_counter() - t0


def serve_provider(latency: float, urls: multiprocessing.Queue) -> None:
    """The fake provider, answering every generation after ``latency`` seconds."""
    fake = FakeServer("127.0.0.1")
    image = b64(png_bytes(64, 64))
    fake.route("POST", r"/v1/images/generations",
               lambda call, m: Resp(json={"created": 1, "data": [{"b64_json": image}]},
                                    delay=latency))
    urls.put(fake.url)
    threading.Event().wait()


class ProviderProcess:
    """The fake provider in a process of its own, as a real one is: in the clients' process
    its threads would wait on the clients' GIL and answer late."""

    def __init__(self, latency: float) -> None:
        urls: multiprocessing.Queue = multiprocessing.Queue()
        self.process = multiprocessing.Process(target=serve_provider, args=(latency, urls),
                                               daemon=True)
        self.process.start()
        self.url = urls.get(timeout=60)

    def close(self) -> None:
        self.process.kill()
        self.process.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _clients(bases: list[str], keys: list[dict], threads: range, counter, body_for,
             out: multiprocessing.Queue) -> None:
    """One load-generating process: ``threads`` client threads (numbered globally) taking
    job numbers from the shared ``counter`` until it runs out; puts its results on ``out``."""
    results: list[tuple[float, str, float]] = []
    lock = threading.Lock()

    def take() -> int | None:
        with counter.get_lock():
            if counter.value <= 0:
                return None
            counter.value -= 1
            return counter.value

    def client(k: int) -> None:
        client = LightClient(bases[k % len(bases)], keys[k % len(keys)])
        try:
            while (i := take()) is not None:
                result = run_job(client, body_for(i))
                with lock:
                    results.append(result)
        finally:
            client.close()

    try:
        with ThreadPoolExecutor(len(threads)) as pool:
            list(pool.map(client, threads))
    except Exception as exc:  # the parent waits on ``out``: tell it, do not hang it
        out.put(f"{type(exc).__name__}: {exc}")
        return
    out.put(results)


def drive(setup: Setup, jobs: int, concurrency: int, body_for, processes: int) -> dict:
    """``jobs`` jobs from ``concurrency`` clients, spread over ``processes`` load-generating
    processes: in one process the clients' threads queue for its GIL, and the wait would
    be counted as the service's latency."""
    bases = [f"http://127.0.0.1:{port}" for port in setup.ports]
    warm = LightClient(bases[0], setup.keys[0])
    run_job(warm, body_for(-1))
    warm.close()
    fork = multiprocessing.get_context("fork")
    counter, out = fork.Value("i", jobs), fork.Queue()
    processes = max(1, min(processes, concurrency))
    shares = [range(p, concurrency, processes) for p in range(processes)]
    cpu0 = {p.name: cpu_seconds(p.popen.pid) for p in setup.procs}
    servers0 = server_cpu()
    reaped0 = _children_cpu()
    t0 = time.perf_counter()
    loaders = [fork.Process(target=_clients, args=(bases, setup.keys, share, counter,
                                                   body_for, out)) for share in shares]
    for loader in loaders:
        loader.start()
    results: list[tuple[float, str, float]] = []
    for _ in loaders:
        got = out.get()
        if isinstance(got, str):
            for loader in loaders:
                loader.kill()
            raise SystemExit(f"a client failed: {got}")
        results += got
    wall = time.perf_counter() - t0
    cpu = {name: cpu_seconds(p.popen.pid) - cpu0[name] for p in setup.procs
           for name in [p.name]}
    # the clients compete for the same cores too: their CPU, counted once they are joined
    for loader in loaders:
        loader.join()
    cpu["clients"] = _children_cpu() - reaped0
    for name, sec in server_cpu().items():  # a server this run did not use stays out
        if sec - servers0.get(name, 0.0) >= 0.05:
            cpu[name] = sec - servers0.get(name, 0.0)
    submits = sorted(r[0] for r in results)
    ok = sum(1 for r in results if r[1] == "succeeded")
    ends = sorted(r[2] for r in results)
    return {"jobs/s": len(results) / wall, "ok": ok, "jobs": len(results), "wall": wall,
            "cpu": ", ".join(f"{name} {sec:.1f} s" for name, sec in cpu.items()),
            "cpu seconds": sum(cpu.values()),
            "submit p50 ms": statistics.median(submits) * 1e3,
            "submit p99 ms": submits[min(len(submits) - 1, int(len(submits) * 0.99))] * 1e3,
            "job p50 ms": statistics.median(ends) * 1e3,
            "job p99 ms": ends[min(len(ends) - 1, int(len(ends) * 0.99))] * 1e3}


def server_cpu() -> dict[str, float]:
    """CPU so far of the database and broker servers on this machine (they share the cores
    too): every live process named postgres, redis-server or beam.smp, summed by name. A
    PostgreSQL backend that exits during a run takes its CPU with it: the services keep
    their pooled connections open, so that is the rare one."""
    names = {"postgres": "postgres", "redis-server": "redis", "beam.smp": "rabbitmq"}
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm = stat.read_text().split("(", 1)[1].split(")", 1)[0]
            if comm in names:
                pid = int(stat.parent.name)
                totals[names[comm]] = totals.get(names[comm], 0.0) + cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
    return totals


def _children_cpu() -> float:
    """User + system CPU of this process's children that have exited and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def broker_for(name: str, redis: str) -> Iterator[tuple[str, str | None]]:
    """(broker URL, Redis URL for progress and limits) for ``name``: the private Redis as
    both, or RabbitMQ on 127.0.0.1 in a virtual host of its own with that Redis beside it.
    A message's acknowledgement on Redis is a transaction of its own (kombu keeps unacked
    messages in sorted sets); on RabbitMQ it is one frame."""
    if name == "redis":
        yield redis, None
        return
    if name != "rabbitmq":
        raise SystemExit(f"unknown broker {name!r}: redis or rabbitmq")
    vhost = f"bench_{uuid.uuid4().hex[:8]}"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True)
    try:
        subprocess.run([*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True)
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}", redis
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True)


def median_round(results: list[dict]) -> dict:
    """The round whose jobs/s is the median of the rounds (its latencies and CPU are shown)."""
    return sorted(results, key=lambda r: r["jobs/s"])[len(results) // 2]


def rates(results: list[dict]) -> str:
    return ", ".join(f"{r['jobs/s']:.2f}" for r in results)


def turbo_rounds(args: argparse.Namespace, provider_url: str, redis_base: str) -> None:
    """The three setups run side by side (each on a Redis database of its own) and are
    measured in turn, round after round, in a rotating order: a machine whose speed drifts
    over minutes then slows each setup alike, and each round's ratio compares runs made
    seconds apart."""
    slots = args.worker_concurrency
    configs = (("embedded", None, []), ("1 worker", f"{redis_base}/1", [("pico-turbo", slots)]),
               ("2 workers", f"{redis_base}/2", [("pico-turbo", slots)] * 2))

    def turbo(i: int) -> dict:
        return {"prompt": f"two cats on a blue background {i}", "model": "pico-turbo",
                "n": args.n, "seed": i % 1000 + 1}

    setups = []
    try:
        for name, broker, workers in configs:
            setups.append((name, Setup(name.replace(" ", ""), broker, provider_url, 8)))
            setups[-1][1].start(workers)
        results: dict[str, list[dict]] = {name: [] for name, _ in setups}
        for round_ in range(args.rounds + 1):  # round 0 warms the processes up: not counted
            order = setups[round_ % len(setups):] + setups[:round_ % len(setups)]
            for name, setup in order:
                result = drive(setup, args.turbo_jobs, 8, turbo, args.client_procs)
                if round_:
                    results[name].append(result)
    finally:
        for _, setup in setups:
            setup.stop()
    print(f"pico-turbo jobs of {args.n} images over HTTP, {args.turbo_jobs} jobs a round, "
          f"{args.rounds} rounds, 8 clients, workers of {slots} slot(s) (PostgreSQL, Redis "
          "broker):")
    for name, _ in setups:
        r = median_round(results[name])
        print(f"  {name:<10} {r['jobs/s']:7.2f} jobs/s median (rounds: {rates(results[name])}); "
              f"median round: {r['ok']}/{r['jobs']} ok, {r['wall']:.1f} s, CPU: {r['cpu']}")
    one, two, emb = (results[name] for name in ("1 worker", "2 workers", "embedded"))
    scaling = [b["jobs/s"] / a["jobs/s"] for a, b in zip(one, two, strict=True)]
    versus = [b["jobs/s"] / a["jobs/s"] for a, b in zip(emb, two, strict=True)]
    print(f"  2 workers / 1 worker: {statistics.median(scaling):.2f}x median (rounds: "
          f"{', '.join(f'{x:.2f}' for x in scaling)}); 2 workers / embedded: "
          f"{statistics.median(versus):.2f}x")
    # Every process here shares the machine's cores: two workers can go no faster than the
    # cores divided by the CPU a job costs all processes together.
    cores = len(os.sched_getaffinity(0))
    ceilings = [cores * b["jobs"] / b["cpu seconds"] / a["jobs/s"]
                for a, b in zip(one, two, strict=True)]
    print(f"  CPU-bound ceiling of 2 workers / 1 worker on {cores} cores: "
          f"{statistics.median(ceilings):.2f}x median (the cores over all processes' CPU "
          f"per job with 2 workers, against 1 worker's rate)")


def hosted_rounds(args: argparse.Namespace, provider_url: str, redis: str) -> None:
    print(f"{args.hosted_jobs} jobs against a provider answering in {args.latency:.1f} s, "
          f"{args.concurrency} at once, one hosted worker, {args.rounds} rounds:")
    for name in args.brokers.split(","):
        with broker_for(name, redis) as (url, shared):
            hosted = Setup("hosted", url, provider_url, args.concurrency, apis=args.apis,
                           redis=shared)
            try:
                hosted.start([("gpt-image-1", args.concurrency)])
                results = [drive(hosted, args.hosted_jobs, args.concurrency,
                                 lambda i: {"prompt": f"a boat {i}", "model": "gpt-image-1"},
                                 args.client_procs) for _ in range(args.rounds + 1)][1:]
            finally:
                hosted.stop()
        r = median_round(results)
        print(f"  {name:<8} {r['jobs/s']:7.2f} jobs/s median (rounds: {rates(results)})")
        print(f"           median round: {r['ok']}/{r['jobs']} ok, {r['wall']:.1f} s; submit "
              f"p50 {r['submit p50 ms']:.1f} ms, p99 {r['submit p99 ms']:.1f} ms; submit to "
              f"done p50 {r['job p50 ms']:.0f} ms, p99 {r['job p99 ms']:.0f} ms")
        print(f"           CPU: {r['cpu']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turbo-jobs", type=int, default=80, help="pico-turbo jobs a round")
    parser.add_argument("--n", type=int, default=4, help="images per pico-turbo job")
    parser.add_argument("--worker-concurrency", type=int, default=1,
                        help="--concurrency of each pico-turbo worker: 1 measures process "
                             "scaling alone; more lets a worker batch concurrent jobs")
    parser.add_argument("--hosted-jobs", type=int, default=200, help="hosted jobs a round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of each measurement; the medians are reported")
    parser.add_argument("--only", choices=("turbo", "hosted"), default=None)
    parser.add_argument("--apis", type=int, default=1, help="API processes for the hosted run")
    parser.add_argument("--brokers", default="redis",
                        help="brokers the hosted run is measured on, in turn: redis, rabbitmq")
    parser.add_argument("--client-procs", type=int, default=4,
                        help="processes the benchmark's clients are spread over")
    args = parser.parse_args()

    fake = ProviderProcess(args.latency)
    redis = procs.redis_server(procs.free_port(), Path(tempfile.mkdtemp()))
    redis_base = f"redis://127.0.0.1:{redis.argv[2]}"
    try:
        if args.only != "hosted":
            turbo_rounds(args, fake.url, redis_base)
        if args.only != "turbo":
            hosted_rounds(args, fake.url, f"{redis_base}/0")
    finally:
        redis.kill9()
        fake.close()


if __name__ == "__main__":
    main()
