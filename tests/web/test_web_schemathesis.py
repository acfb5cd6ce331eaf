"""Property-based API testing with schemathesis against ``/openapi.json`` on a live server:
generated requests to every operation must never get a 5xx, and every response must match
the documented status codes, content types, headers and schemas. Both valid and invalid
requests are generated, on SQLite and on PostgreSQL. Bounded examples keep it to about a
minute."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from tests.conftest import PG_URL, fresh_pg_schema
from tests.support.fake_engine import FAKE_CARDS, FakeFactory
from tests.web.conftest import fast_config, make_key, start_server
from triptych.catalog.loader import Catalog
from triptych.client import Triptych
from triptych.engines import registry
from triptych.settings import Settings
from triptych.web.app import create_app

# Per operation. PostgreSQL runs fewer: the schema's edges are the same, only the database's
# (string lengths, integer ranges, locking) differ, and the suite runs on 2 cores.
MAX_EXAMPLES = {"sqlite": 20, "postgres": 6}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory) -> Iterator[tuple[str, dict[str, str], int]]:
    """(url, admin headers, examples per operation) of a live server on each database."""
    settings = Settings(home=tmp_path_factory.mktemp("schemathesis"), _env_file=None,
                        max_jobs_in_flight=50)
    with ExitStack() as stack:
        schema = None
        if request.param == "postgres":
            schema = stack.enter_context(fresh_pg_schema())  # skips if PostgreSQL is down
            settings.database_url = PG_URL
        registry.register("test", FakeFactory())
        stack.callback(registry.unregister, "test")
        tp = Triptych(settings, catalog=Catalog(list(FAKE_CARDS)), db_schema=schema)
        stack.callback(tp.db.dispose)
        headers = make_key(tp, "fuzz@example.com", admin=True)
        tp.grant("fuzz@example.com", 1_000_000, reason="fuzzing budget")
        live = start_server(create_app(tp, fast_config(workers=2)))
        stack.callback(live.stop)
        yield live.url, headers, MAX_EXAMPLES[request.param]


def operation_ids() -> list[str]:
    """Every documented operation, read from the app's own schema at collection time."""
    with tempfile.TemporaryDirectory(prefix="triptych-openapi-") as home:
        tp = Triptych(Settings(home=Path(home), _env_file=None),
                      catalog=Catalog(list(FAKE_CARDS)))
        document = create_app(tp, fast_config()).openapi()
        tp.db.dispose()
    return [f"{method.upper()} {path}" for path, methods in document["paths"].items()
            for method in methods]


@pytest.fixture(scope="module")
def api_schema(server):
    url, _, _ = server
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


@pytest.mark.parametrize("label", operation_ids())
def test_api_conforms_to_its_schema(label, api_schema, server):
    _, headers, examples = server
    if label == "GET /v1/jobs/{job_id}/events":
        pytest.skip("the stream stays open until its job ends; tested directly")
    operation = api_schema.find_operation_by_label(label)

    # Valid requests and deliberately invalid ones: neither may ever get a 5xx.
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    run()
