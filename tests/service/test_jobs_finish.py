"""A job's finish: the finished row and its images land together, or neither does (one
statement on PostgreSQL, two on SQLite)."""

from sqlalchemy import select, update
from tests.conftest import BOTH_DBS

from triptych.db.models import Image, Job


def image_rows(tp, job_id: str) -> list[Image]:
    with tp.ctx.sessions() as s:
        return list(s.scalars(select(Image).where(Image.job_id == job_id)
                              .order_by(Image.index)))


@BOTH_DBS
def test_a_finished_job_has_each_of_its_images_once(tp):
    out = tp.generate("three red circles", "fake-general", seed=3, n=3)
    rows = image_rows(tp, out.id)
    assert [row.index for row in rows] == [0, 1, 2]
    assert [row.id for row in rows] == [image["id"] for image in tp.job(out.id)["images"]]
    assert [row.record["seed"] for row in rows] == [3, 4, 5]
    assert {row.user_id for row in rows} == {tp.user_id}
    assert tp.credits()["available"] == 35 and tp.verify_ledger() == []


@BOTH_DBS
def test_a_job_cancelled_while_its_engine_ran_gets_no_images(tp, fake_factory):
    holder = {}
    fake_factory.engine("fake-general").before_return = lambda _r: tp.cancel(holder["id"])
    holder["id"] = tp.submit("a cat", "fake-general", n=2)["id"]
    assert tp.run(holder["id"])["status"] == "canceled"
    assert image_rows(tp, holder["id"]) == []
    assert tp.credits()["available"] == 50 and tp.verify_ledger() == []


@BOTH_DBS
def test_an_attempt_that_lost_its_job_adds_no_images(tp, fake_factory):
    holder = {}

    def taken_over(_request) -> None:  # its lease lapsed and a later attempt claimed it
        with tp.ctx.sessions.begin() as s:
            s.execute(update(Job).where(Job.id == holder["id"])
                      .values(attempts=Job.attempts + 1))

    fake_factory.engine("fake-general").before_return = taken_over
    holder["id"] = tp.submit("a cat", "fake-general", n=2)["id"]
    job = tp.run(holder["id"])
    assert job["status"] == "running" and job["images"] == []
    assert image_rows(tp, holder["id"]) == []
    assert tp.credits()["held"] == 10 and tp.verify_ledger() == []
