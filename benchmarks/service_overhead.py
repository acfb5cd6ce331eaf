"""What the service adds per job: submit → hold → run → store PNG → capture, against calling
the same engine directly. The engine returns a fixed 64×64 image, so the difference is all
Triptych (validation, safety, ledger transactions, PNG encoding with metadata, storage).

    .venv/bin/python benchmarks/service_overhead.py [--jobs 200] [--postgres]

Prints both medians, the per-job overhead and the ratio, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from fixed_engine import CARD, FixedFactory, FixedImageEngine
from sqlalchemy import create_engine, text

from triptych.catalog.loader import Catalog
from triptych.client import Triptych
from triptych.engines import registry
from triptych.engines.base import GenerationRequest
from triptych.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    registry.register("bench", FixedFactory())
    home = Path(tempfile.mkdtemp())
    schema = None
    settings = Settings(home=home, _env_file=None)
    if args.postgres:
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        settings = Settings(home=home, database_url=url, _env_file=None)
    tp = Triptych(settings, catalog=Catalog([CARD]), db_schema=schema)
    tp.grant(tp.user_email, args.jobs * 2, reason="benchmark")
    engine = FixedImageEngine()
    request = GenerationRequest(prompt="a red circle", width=64, height=64, seed=1)

    direct, service = [], []
    for i in range(args.jobs):  # interleaved, so machine noise hits both alike
        t0 = time.perf_counter()
        engine.generate(request)
        direct.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tp.generate(f"a red circle {i}", "fixed", seed=i)
        service.append(time.perf_counter() - t0)

    d, s = statistics.median(direct) * 1e3, statistics.median(service) * 1e3
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"jobs: {args.jobs} on {backend}")
    print(f"engine called directly : {d:8.3f} ms/job (median)")
    print(f"through the service    : {s:8.3f} ms/job (median), p95 "
          f"{sorted(service)[int(len(service) * 0.95)] * 1e3:.3f} ms")
    print(f"overhead per job       : {s - d:8.3f} ms")
    print(f"ratio service / direct : {s / d:8.1f}x")
    assert tp.verify_ledger() == []
    if schema:
        tp.db.dispose()
        with create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test",
                           isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
