"""Fixtures: two fake hosts per test (127.0.0.1 = the API, 127.0.0.2 = polling URLs / CDN)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The fakes live in a plain module beside this file; make it importable under any
# --import-mode (importlib mode does not put test directories on sys.path).
sys.path.insert(0, str(Path(__file__).parent))

from provider_fakes import ALL_FAKES, Fake, FakeServer  # noqa: E402


@pytest.fixture
def main_server() -> Iterator[FakeServer]:
    server = FakeServer("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def alt_server() -> Iterator[FakeServer]:
    server = FakeServer("127.0.0.2")
    yield server
    server.close()


@pytest.fixture(params=ALL_FAKES, ids=lambda cls: cls.name)
def fake(request: pytest.FixtureRequest, main_server: FakeServer, alt_server: FakeServer
         ) -> Fake:
    return request.param(main_server, alt_server)
