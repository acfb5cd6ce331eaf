"""Hypothesis drives grant / submit / capture / void / cancel / expire / crash / restart against
real SQLite and the running PostgreSQL, checking the ledger invariants after every step and
the user's balance against a simple model of what it must be."""

import uuid
from datetime import datetime

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import create_engine, text
from tests.conftest import PG_URL
from tests.support.fake_engine import FAKE_CARDS, FakeFactory

from triptych.catalog.loader import Catalog
from triptych.client import Triptych
from triptych.engines import registry
from triptych.engines.errors import FatalError
from triptych.service.clock import ManualClock
from triptych.settings import Settings

COSTS = {c.id: c.credits for c in FAKE_CARDS}


class LedgerMachine(RuleBasedStateMachine):
    backend = "sqlite"
    tmp_root = None

    @initialize()
    def boot(self):
        self.factory = FakeFactory()
        registry.register("test", self.factory)
        self.clock = ManualClock(datetime(2026, 1, 20, 9, 0))
        home = self.tmp_root / uuid.uuid4().hex
        self.schema = None
        if self.backend == "postgres":
            self.schema = f"h_{uuid.uuid4().hex[:12]}"
            with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.settings = Settings(home=home, database_url=PG_URL, _env_file=None)
        else:
            self.settings = Settings(home=home, _env_file=None)
        self.settings.max_jobs_in_flight = 1000
        self.restart()
        # model of the user's money: this month's allowance and purchased credits
        self.period = (2026, 1)
        self.allowance = 50
        self.purchased = 0
        self.open = {}  # job id -> list of (source, amount, period)
        self.tp.credits()

    def restart(self):
        self.tp = Triptych(self.settings, clock=self.clock, catalog=Catalog(list(FAKE_CARDS)),
                           db_schema=self.schema)

    def teardown(self):
        registry.unregister("test")
        if getattr(self, "schema", None):
            self.tp.db.dispose()
            with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))

    # -- the model ---------------------------------------------------------------------------

    def _roll_month(self):
        now = (self.clock.now.year, self.clock.now.month)
        if now != self.period:
            self.period = now
            self.allowance = 50

    def _refund(self, job_id):
        for source, amount, period in self.open.pop(job_id):
            if source == "purchased":
                self.purchased += amount
            elif period == self.period:
                self.allowance += amount  # else: refunded into a month that expired

    # -- rules -------------------------------------------------------------------------------

    @rule(amount=st.integers(1, 40))
    def grant(self, amount):
        self.tp.grant(self.tp.user_email, amount, reason="test grant")
        self._roll_month()
        self.purchased += amount

    @rule(model=st.sampled_from(sorted(COSTS)), n=st.integers(1, 2))
    def submit(self, model, n):
        self._roll_month()
        cost = COSTS[model] * n
        try:
            job = self.tp.submit("a cat", model, n=n)
        except Exception as exc:
            assert type(exc).__name__ == "InsufficientCredits"
            assert self.allowance + self.purchased < cost
            return
        from_allowance = min(self.allowance, cost)
        self.allowance -= from_allowance
        self.purchased -= cost - from_allowance
        parts = [("allowance", from_allowance, self.period)] if from_allowance else []
        if cost - from_allowance:
            parts.append(("purchased", cost - from_allowance, self.period))
        self.open[job["id"]] = parts

    @precondition(lambda self: self.open)
    @rule(data=st.data(), succeed=st.booleans())
    def run(self, data, succeed):
        job_id = data.draw(st.sampled_from(list(self.open)))
        model = self.tp.job(job_id)["model"]
        self.factory.engine(model).fail_with = None if succeed else FatalError("boom")
        status = self.tp.run(job_id)["status"]
        self.factory.engine(model).fail_with = None
        if status == "succeeded":
            self.open.pop(job_id)
        elif status in ("failed", "canceled"):
            self._refund(job_id)

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def cancel(self, data):
        job_id = data.draw(st.sampled_from(list(self.open)))
        if self.tp.cancel(job_id)["status"] == "canceled":
            self._refund(job_id)

    @rule(days=st.integers(1, 40))
    def time_passes(self, days):
        self.clock.advance(days=days)
        self.tp.credits()  # any access grants the new month and expires the old one
        self._roll_month()

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def crash_and_restart(self, data):
        job_id = data.draw(st.sampled_from(list(self.open)))
        self.tp.jobs.claim(job_id)  # a worker took it, then the process died
        self.restart()
        self.clock.advance(seconds=self.settings.job_lease_seconds + 1)
        self.tp.jobs.recover()
        self._roll_month()
        # Recovery requeues the lost job (or voids it after its last attempt) and also
        # expires jobs that sat queued past the hold TTL.
        for open_id in list(self.open):
            status = self.tp.job(open_id)["status"]
            if status in ("failed", "canceled"):
                self._refund(open_id)
            else:
                assert status == "queued"

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def books_are_sound(self):
        if not hasattr(self, "tp"):
            return
        assert self.tp.verify_ledger() == []
        credits = self.tp.credits(statement=False)
        self._roll_month()
        assert credits["allowance"] == self.allowance
        assert credits["purchased"] == self.purchased
        assert credits["held"] == sum(a for parts in self.open.values() for _, a, _ in parts)
        assert credits["available"] >= 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_ledger_state_machine(backend, tmp_path, request):
    if backend == "postgres":
        request.getfixturevalue("pg_schema")  # skips cleanly where PostgreSQL is down
    machine = type(f"LedgerMachine_{backend}", (LedgerMachine,),
                   {"backend": backend, "tmp_root": tmp_path})
    machine.TestCase.settings = hsettings(
        max_examples=15 if backend == "sqlite" else 10, stateful_step_count=20, deadline=None,
        suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()

