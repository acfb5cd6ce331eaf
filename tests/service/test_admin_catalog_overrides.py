"""Run-time price and on/off changes (``tp.admin``): stored in the database, seen by every
process, audited, and never touching a job already quoted and held. Both databases."""

from __future__ import annotations

import pytest
from tests.conftest import BOTH_DBS

from triptych.client import Triptych
from triptych.errors import ModelUnavailable, NotFound
from triptych.service.audit import Actor

ADMIN = Actor(None, "cli:tester")


def balance(tp: Triptych) -> tuple[int, int]:
    c = tp.credits(statement=False)
    return c["available"], c["held"]


def other_process(tp: Triptych, request, refresh: float) -> Triptych:
    """A second Triptych on the same database, as another API process or worker would be."""
    schema = request.getfixturevalue("pg_schema") if tp.db.dialect.name == "postgresql" \
        else None
    settings = tp.settings.model_copy(update={"catalog_refresh_seconds": refresh})
    return Triptych(settings, clock=tp.ctx.clock, catalog=tp.catalog.base, db_schema=schema)


@BOTH_DBS
def test_a_held_job_captures_its_quoted_price_after_a_price_change(tp) -> None:
    held = tp.submit("a red circle", "fake-general", seed=1)
    assert held["cost"] == 5 and balance(tp) == (45, 5)
    row = tp.admin.set_price("fake-general", 9, ADMIN)
    assert (row.credits, row.card_credits, row.override_credits) == (9, 5, 9)
    later = tp.submit("a blue square", "fake-general", seed=2)
    assert later["cost"] == 9 and balance(tp) == (36, 14)
    assert tp.run(held["id"])["charged"] == 5  # what it was quoted, not today's price
    assert tp.run(later["id"])["charged"] == 9
    assert balance(tp) == (36, 0)
    assert tp.verify_ledger() == []
    record = tp.job(held["id"])["images"][0]["record"]
    assert record["credits"] == 5  # the image's provenance says what was paid
    entries, total = tp.admin.audit()
    assert total == 1 and entries[0]["action"] == "model.price"
    assert (entries[0]["old"], entries[0]["new"], entries[0]["actor"]) == (5, 9, "cli:tester")


@BOTH_DBS
def test_a_disabled_model_refuses_new_jobs_while_queued_and_running_ones_finish(
        tp, fake_factory) -> None:
    queued = tp.submit("a red circle", "fake-general", seed=1)
    running = tp.submit("a green star", "fake-general", seed=2)
    # Turned off while the engine is working on a job: that job still finishes.
    fake_factory.engine("fake-general").before_return = \
        lambda request: tp.admin.set_enabled("fake-general", False, ADMIN)
    assert tp.run(running["id"])["status"] == "succeeded"
    fake_factory.engine("fake-general").before_return = None
    with pytest.raises(ModelUnavailable) as info:
        tp.submit("a blue square", "fake-general", seed=3)
    assert "turned off by the administrator" in info.value.message
    assert "Choose another model" in info.value.message
    assert info.value.fields["model"] == "fake-general"
    assert balance(tp) == (40, 5)  # the refused one held nothing
    assert tp.run(queued["id"])["status"] == "succeeded"  # quoted and held before: it runs
    listed = {m["id"]: m for m in tp.models()}["fake-general"]
    assert not listed["available"] and "administrator" in listed["unavailable_reason"]
    tp.admin.set_enabled("fake-general", True, ADMIN)
    assert tp.submit("a blue square", "fake-general", seed=3)["status"] == "queued"
    actions = [e["action"] for e in tp.admin.audit()[0]]
    assert actions == ["model.enable", "model.disable"]


@BOTH_DBS
def test_every_process_holds_the_database_price_and_sees_it_within_the_refresh(
        tp, request) -> None:
    stale = other_process(tp, request, refresh=3600)
    fresh = other_process(tp, request, refresh=0)
    try:
        assert stale.catalog.get("fake-general").credits == 5  # read and kept for an hour
        tp.admin.set_price("fake-general", 7, ADMIN)
        assert fresh.catalog.get("fake-general").credits == 7
        assert stale.catalog.get("fake-general").credits == 5  # shows a stale price...
        job = stale.submit("a red circle", "fake-general", seed=1)
        assert job["cost"] == 7  # ...but holds the database's, read in the submit
        tp.admin.set_enabled("fake-general", False, ADMIN)
        with pytest.raises(ModelUnavailable):
            stale.submit("a red circle", "fake-general", seed=2)
    finally:
        stale.db.dispose()
        fresh.db.dispose()


def test_reset_restores_the_card_and_unknown_models_are_not_found(tp) -> None:
    tp.admin.set_price("fake-draft", 3, ADMIN)
    tp.admin.set_enabled("fake-draft", False, ADMIN)
    row = tp.admin.reset_model("fake-draft", ADMIN)
    assert (row.credits, row.enabled, row.override_credits, row.override_enabled) == \
        (1, True, None, None)
    assert tp.submit("x", "fake-draft")["cost"] == 1
    with pytest.raises(NotFound):
        tp.admin.set_price("nope", 3, ADMIN)
    entries, _ = tp.admin.audit()
    assert entries[0]["action"] == "model.reset"
    assert entries[0]["old"] == {"credits": 3, "enabled": False}


def test_a_price_must_be_a_whole_number_in_range(tp) -> None:
    from triptych.errors import InvalidRequest

    for bad in (-1, 10_000_001, True):
        with pytest.raises(InvalidRequest):
            tp.admin.set_price("fake-draft", bad, ADMIN)
    assert tp.admin.audit()[1] == 0


@BOTH_DBS
def test_admins_changing_one_model_at_once_both_land(tp) -> None:
    import threading

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def change(credits: int) -> None:
        barrier.wait()
        try:
            tp.admin.set_price("fake-premium", credits, Actor(None, f"cli:admin{credits}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(c,)) for c in (20, 21, 22, 23)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    entries, total = tp.admin.audit()
    assert total == 4
    final = tp.admin.catalog()
    assert {r.id: r.credits for r in final}["fake-premium"] == entries[0]["new"]
