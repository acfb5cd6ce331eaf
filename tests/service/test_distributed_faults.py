"""The service tier with real processes: two `triptych serve` and two `triptych worker` (the
commands of deploy/compose.yaml's api-1, api-2, worker-builtin and worker-hosted) on
the running PostgreSQL and a private Redis (so restarting the broker disturbs no one else),
a fake OpenAI-compatible provider on 127.0.0.1 that counts paid submits, and faults made the
way they happen — SIGKILL, a broker restart, a message delivered twice, a job committed but
never published. After each fault every job ends exactly once (captured or refunded),
`triptych ledger verify` passes, the provider saw at most one paid submit per job, and every
delivered image is in the store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import PG_URL
from tests.support import processes as procs
from tests.web.conftest import make_key

from triptych.client import Triptych
from triptych.db.models import Job, Transfer
from triptych.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "engines" / "providers"))
from provider_fakes import KEY, FakeServer, Resp, b64, png_bytes  # noqa: E402

FINAL = ("succeeded", "failed", "canceled")
SUBMIT = r"/v1/images/generations"


class SlowOpenAI:
    """An OpenAI Images endpoint answering after ``delay`` seconds; every POST is a paid
    submit, logged with its prompt."""

    def __init__(self) -> None:
        self.server = FakeServer("127.0.0.1")
        self.delay = 0.2
        self.server.route("POST", SUBMIT, self._generate)

    def _generate(self, call, _match) -> Resp:
        body = call.json() or {}
        image = png_bytes(64, 64, tuple(hashlib.sha256(body["prompt"].encode()).digest()[:3]))
        return Resp(json={"created": 1, "data": [{"b64_json": b64(image)}] * body.get("n", 1)},
                    delay=self.delay)

    def submits(self, prompt: str) -> int:
        return sum(1 for c in self.server.calls_to("POST", SUBMIT)
                   if (c.json() or {}).get("prompt") == prompt)


class Cluster:
    def __init__(self, tmp: Path, schema: str, broker: str, provider: SlowOpenAI) -> None:
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.logs.mkdir()
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        self.env = {**os.environ, "TRIPTYCH_HOME": str(tmp / "home"),
                    "TRIPTYCH_DATABASE_URL": url, "TRIPTYCH_BROKER_URL": broker,
                    "TRIPTYCH_JOB_LEASE_SECONDS": "3", "TRIPTYCH_SWEEP_INTERVAL_SECONDS": "0.5",
                    "TRIPTYCH_REQUEUE_AFTER_SECONDS": "3", "TRIPTYCH_TORCH_THREADS": "1",
                    "TRIPTYCH_MAX_JOBS_IN_FLIGHT": "100",
                    "TRIPTYCH_WARM_UP": "false",
                    "TRIPTYCH_OPENAI_API_KEY": KEY, "TRIPTYCH_OPENAI_BASE_URL":
                    provider.server.url, "TRIPTYCH_WEB_SECRET": "cluster-test"}
        settings = Settings(home=tmp / "home", database_url=url, broker_url=broker,
                            max_jobs_in_flight=100,
                            openai_api_key=KEY, openai_base_url=provider.server.url,
                            _env_file=None)
        self.tp = Triptych(settings)
        self.headers = make_key(self.tp, "load@example.com")
        self.tp.grant("load@example.com", 5000, reason="load test")
        self.user = self.tp.as_user("load@example.com")
        self.provider = provider
        self.ports = [procs.free_port(), procs.free_port()]
        self.servers: list[procs.Proc] = []
        self.workers: dict[str, procs.Proc] = {}
        self.job_ids: list[str] = []
        self.refused: list[str] = []
        self.started: list[str] = []

    def start(self) -> None:
        # Start everything at once: each process pays its import time in parallel.
        self.workers["builtin"] = self.worker("builtin", wait=False)
        self.workers["hosted"] = self.worker("hosted", wait=False)
        self.servers = [self.serve(i) for i in range(2)]
        for proc in self.workers.values():
            procs.wait_for(lambda p=proc: " ready." in p.text(), 120, proc.name)

    def worker(self, pool: str, wait: bool = True) -> procs.Proc:
        name = f"worker-{pool}-{sum(p.startswith(pool) for p in self.started)}"
        self.started.append(pool)
        return procs.worker(name, procs.compose_command(f"worker-{pool}"), self.env,
                            self.logs, wait=wait)

    def serve(self, i: int) -> procs.Proc:
        self.started.append(f"api-{i}")
        return procs.serve(f"api-{i}-{self.started.count(f'api-{i}')}", self.ports[i],
                           self.env, self.logs, procs.compose_command(f"api-{i + 1}"))

    def stop(self) -> None:
        for proc in [*self.servers, *self.workers.values()]:
            proc.kill9()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, kind, *_: object) -> None:
        """Stop every process; on a failure, show what each one logged."""
        if kind is not None:
            for proc in [*self.servers, *self.workers.values()]:
                print(f"--- {proc.name}\n{proc.text()[-4000:]}")
        self.stop()

    def submit(self, prompt: str, model: str, n: int = 1, server: int = 0) -> str:
        reply = httpx.post(f"http://127.0.0.1:{self.ports[server]}/v1/generations",
                           json={"prompt": prompt, "model": model, "n": n, "seed": 7},
                           headers=self.headers, timeout=30)
        assert reply.status_code == 202, reply.text
        self.job_ids.append(reply.json()["id"])
        return reply.json()["id"]

    def load(self, count: int, prefix: str) -> list[str]:
        """Bounded load through both API processes from 8 client threads."""
        models = ["pico-turbo", "pico-turbo", "gpt-image-1", "pico-dit"]
        ids: list[str] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            try:
                job_id = self.submit(f"{prefix} {i}: a red circle", models[i % len(models)],
                                     server=i % 2)
            except (httpx.HTTPError, AssertionError) as exc:
                self.refused.append(repr(exc))  # a server killed under load
                return
            with lock:
                ids.append(job_id)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for start in range(0, count, 8):
            batch = threads[start:start + 8]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
        return ids

    def all_jobs(self) -> list[str]:
        with self.tp.ctx.sessions.begin() as s:
            return list(s.scalars(select(Job.id)))

    def status(self, job_id: str) -> str:
        with self.tp.ctx.sessions.begin() as s:
            return s.get(Job, job_id).status

    def wait_final(self, ids: list[str], timeout: float = 120) -> None:
        procs.wait_for(lambda: all(self.status(j) in FINAL for j in ids), timeout,
                       f"{len(ids)} jobs to finish ({self.counts(ids)})")

    def counts(self, ids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for j in ids:
            out[self.status(j)] = out.get(self.status(j), 0) + 1
        return out

    def check_books(self) -> None:
        """Every job ends once: the capture and the refund of its hold add up to its cost,
        with no second settlement; `triptych ledger verify` passes; at most one paid submit
        per hosted job (exactly one when it succeeded); every delivered image is stored."""
        every = self.all_jobs()
        assert set(self.job_ids) <= set(every)
        self.wait_final(every)
        verify = subprocess.run([procs.TRIPTYCH, "ledger", "verify"], env=self.env,
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        with self.tp.ctx.sessions.begin() as s:
            for job in s.scalars(select(Job).where(Job.id.in_(every))):
                settled = dict(s.execute(
                    select(Transfer.kind, func.sum(Transfer.amount))
                    .where(Transfer.job_id == job.id, Transfer.kind.in_(("capture", "void")))
                    .group_by(Transfer.kind)).all())
                assert settled.get("capture", 0) == job.charged, job.id
                assert settled.get("capture", 0) + settled.get("void", 0) == job.cost, job.id
                if job.status == "succeeded":
                    assert job.charged == job.cost
                if job.model_id == "gpt-image-1":
                    submits = self.provider.submits(job.prompt)
                    assert submits <= 1, (job.id, submits)
                    if job.status == "succeeded":
                        assert submits == 1
        for job_id in every:
            job = self.user.job(job_id)
            for image in job["images"]:
                data = self.tp.ctx.store.read(image["path"])
                assert hashlib.sha256(data).hexdigest() == image["sha256"]

    def wait_running(self, job_id: str, timeout: float = 60) -> None:
        procs.wait_for(lambda: self.status(job_id) == "running", timeout, f"{job_id} to run")


@pytest.fixture
def provider():
    fake = SlowOpenAI()
    yield fake
    fake.server.close()


@pytest.fixture
def redis_broker(tmp_path):
    """A private Redis: (port, the servers started on it, killed at the end)."""
    port = procs.free_port()
    servers = [procs.redis_server(port, tmp_path)]
    yield port, servers
    for server in servers:
        server.kill9()


def test_faults_on_postgresql_and_redis(tmp_path, pg_schema, provider, redis_broker):
    port, redis_servers = redis_broker
    with Cluster(tmp_path, pg_schema, f"redis://127.0.0.1:{port}/0", provider) as cluster:
        cluster.start()
        # 1. bounded load through both API processes
        loaded = cluster.load(16, "load")
        assert len(loaded) == 16, cluster.refused
        cluster.wait_final(loaded)
        assert cluster.counts(loaded) == {"succeeded": 16}
        cluster.check_books()

        # 2. kill -9 the built-in worker in the middle of a job: its lease lapses, the job is
        #    re-queued and re-published, and a new worker runs it once
        slow = cluster.submit("kill the built-in worker: two dogs", "pico-dit", n=4)
        cluster.wait_running(slow)
        cluster.workers["builtin"].kill9()
        cluster.workers["builtin"] = cluster.worker("builtin")
        cluster.wait_final([slow])
        assert cluster.status(slow) == "succeeded"
        cluster.check_books()

        # 3. kill -9 the hosted worker while the provider works on a job: the provider may be
        #    charging for it, so it is refunded and never sent a second time
        provider.delay = 6.0
        hosted = cluster.submit("kill the hosted worker: a boat", "gpt-image-1")
        procs.wait_for(lambda: provider.submits("kill the hosted worker: a boat") == 1, 60,
                       "the paid submit")
        cluster.workers["hosted"].kill9()
        provider.delay = 0.2
        cluster.workers["hosted"] = cluster.worker("hosted")
        cluster.wait_final([hosted])
        job = cluster.user.job(hosted)
        assert job["status"] == "failed" and job["error"]["code"] == "lost"
        cluster.check_books()

        # 4. an API process killed between commit and publish: the job is committed (here
        #    through the facade, which holds and commits exactly as the API does) and never
        #    published; then kill -9 an API process under load and restart it
        unpublished = cluster.user.submit(
            "never published: a kite", "pico-turbo", seed=1)["id"]
        cluster.job_ids.append(unpublished)
        loader = threading.Thread(target=lambda: cluster.load(8, "api killed"))
        loader.start()
        time.sleep(0.5)
        cluster.servers[1].kill9()
        loader.join()  # its requests went to both: some were refused by the dead one
        cluster.servers[1] = cluster.serve(1)
        cluster.wait_final([unpublished])
        assert cluster.status(unpublished) == "succeeded"
        cluster.check_books()

        # 5. restart the broker mid-load: jobs accepted while it is down are published by the
        #    sweeper once it is back, and the workers reconnect
        redis_servers[0].kill9()
        during = [cluster.submit(f"broker down {i}: a lamp", "pico-turbo", server=i % 2)
                  for i in range(4)]
        redis_servers.append(procs.redis_server(port, tmp_path))
        cluster.wait_final(during, timeout=120)
        assert cluster.counts(during) == {"succeeded": 4}
        cluster.check_books()

        # 6. one message delivered twice: it runs once, charged once
        from triptych.service.distributed.publisher import CeleryExecutor

        twice = cluster.user.submit(
            "delivered twice: a cup", "pico-turbo", seed=2)["id"]
        cluster.job_ids.append(twice)
        publisher = CeleryExecutor(cluster.tp.jobs, sweep=False)
        assert publisher.publish(twice, 1, "pico-turbo")
        assert publisher.publish(twice, 1, "pico-turbo")
        cluster.wait_final([twice])
        with cluster.tp.ctx.sessions.begin() as s:
            assert s.get(Job, twice).attempts == 1
        cluster.check_books()


def test_jobs_run_through_rabbitmq(tmp_path, pg_schema, provider):
    """The same road on RabbitMQ (a private virtual host): load, a duplicate delivery, and a
    worker killed mid-job."""
    vhost = f"t_{pg_schema}"
    ctl = ["rabbitmqctl", "-q"]
    if subprocess.run([*ctl, "add_vhost", vhost], capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            raise RuntimeError("rabbitmqctl could not add a virtual host")
        pytest.skip("RabbitMQ is not manageable here")
    subprocess.run([*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)
    try:
        with Cluster(tmp_path, pg_schema, f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
                     provider) as cluster:
            cluster.start()
            cluster.wait_final(cluster.load(8, "rabbit"))
            slow = cluster.submit("kill on rabbit: two dogs", "pico-dit", n=4)
            cluster.wait_running(slow)
            cluster.workers["builtin"].kill9()
            cluster.workers["builtin"] = cluster.worker("builtin")
            cluster.wait_final([slow])
            assert cluster.counts(cluster.all_jobs()) == {"succeeded": 9}
            cluster.check_books()
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True)


def test_sigterm_finishes_the_running_job_and_takes_no_new_one(tmp_path, pg_schema, provider,
                                                               redis_broker):
    port, _ = redis_broker
    cluster = Cluster(tmp_path, pg_schema, f"redis://127.0.0.1:{port}/0", provider)
    from triptych.service.distributed.publisher import CeleryExecutor

    publisher = CeleryExecutor(cluster.tp.jobs, sweep=False)
    # one job slot: with more (a batching worker's default), the later job would start
    # beside the first before the SIGTERM, and be finished too
    worker = procs.worker("builtin-term", "pico-dit", cluster.env, cluster.logs, concurrency=1)
    try:
        running = cluster.user.submit("stop gently: two dogs", "pico-dit", n=4, seed=1)["id"]
        publisher.publish(running, 1, "pico-dit")
        cluster.wait_running(running)
        later = cluster.user.submit("after the stop: a cat", "pico-dit", seed=2)["id"]
        publisher.publish(later, 1, "pico-dit")
        assert worker.terminate(60) == 0
        assert cluster.status(running) == "succeeded"
        assert cluster.status(later) == "queued"  # still there for the next worker
        with cluster.tp.ctx.sessions.begin() as s:
            assert s.get(Job, later).attempts == 0
    except BaseException:
        print(worker.text()[-4000:])
        raise
    finally:
        worker.kill9()
