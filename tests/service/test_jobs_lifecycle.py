"""Quote → hold → capture on success; void on every failure; cancel; idempotency; recovery."""

from datetime import timedelta

import pytest

from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderOutOfCreditError,
    RetryableError,
)
from triptych.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidRequest,
    JobFailed,
    ModelUnavailable,
    ModerationBlocked,
    TooManyJobs,
)
from triptych.service.provenance import read_record


def test_quote_charges_nothing(tp):
    quote = tp.quote("a cat", "fake-general", n=2)
    assert quote["total"] == 10 and quote["affordable"]
    assert tp.credits()["available"] == 50


def test_success_captures_exactly_the_quote(tp):
    out = tp.generate("a red circle", "fake-general", seed=7, n=2)
    assert out.cost == 10 and len(out.paths) == 2
    credits = tp.credits()
    assert credits["available"] == 40 and credits["held"] == 0
    kinds = [line["kind"] for line in credits["statement"]]
    assert kinds.count("hold") == 1 and kinds.count("capture") == 1
    assert tp.verify_ledger() == []


@pytest.mark.parametrize("error", [
    ModerationError("blocked", side="output"),
    ProviderOutOfCreditError("provider account empty"),
    InvalidRequestError("bad aspect ratio", field="size"),
    RetryableError("timed out"),
    FatalError("boom"),
    RuntimeError("an engine bug"),
])
def test_every_failure_refunds_the_hold_and_keeps_history(tp, fake_factory, error):
    fake_factory.engine("fake-general").fail_with = error
    with pytest.raises((JobFailed, ModerationBlocked, InvalidRequest)) as info:
        tp.generate("a red circle", "fake-general")
    assert "Nothing was charged" in info.value.message
    assert tp.credits()["available"] == 50
    [job] = tp.history()
    assert job["status"] == "failed" and job["charged"] == 0 and job["error"]["code"]
    assert tp.verify_ledger() == []


def test_output_moderation_tells_which_side(tp, fake_factory):
    fake_factory.engine("fake-general").fail_with = ModerationError("nope", side="output")
    with pytest.raises(ModerationBlocked) as info:
        tp.generate("a red circle", "fake-general")
    assert info.value.side == "output"


def test_invalid_field_is_recorded(tp, fake_factory):
    fake_factory.engine("fake-general").fail_with = InvalidRequestError("x", field="size")
    with pytest.raises(InvalidRequest) as info:
        tp.generate("a red circle", "fake-general")
    assert info.value.field == "size"
    assert tp.history()[0]["error"]["field"] == "size"


def test_insufficient_credits_refused_up_front_with_numbers(tp):
    with pytest.raises(InsufficientCredits) as info:
        tp.generate("a red circle", "fake-premium", n=4)
    err = info.value.to_dict()
    assert (err["needed"], err["available"], err["renews_on"]) == (60, 50, "2026-04-01")
    assert "60" in info.value.message and "50" in info.value.message
    assert tp.history() == [] and tp.credits()["available"] == 50


def test_validation_happens_before_any_charge(tp):
    for kwargs, field in [
        (dict(prompt=""), "prompt"), (dict(prompt="x" * 5000), "prompt"),
        (dict(prompt="a cat", n=9), "n"), (dict(prompt="a cat", size="4096x4096"), "size"),
        (dict(prompt="a cat", size="big"), "size"), (dict(prompt="a cat", steps=500), "steps"),
        (dict(prompt="a cat", seed=-1), "seed"), (dict(prompt="a cat", model="nope"), "model"),
        (dict(prompt="a cat", content_mode="unrestricted"), "content_mode"),
    ]:
        kwargs.setdefault("model", "fake-general")
        with pytest.raises(InvalidRequest) as info:
            tp.generate(**kwargs)
        assert info.value.field == field, kwargs
    assert tp.credits()["available"] == 50 and tp.history() == []


def test_unavailable_model_is_refused_with_reason(tp, fake_factory):
    fake_factory.unavailable.add("fake-general")
    with pytest.raises(ModelUnavailable) as info:
        tp.generate("a cat", "fake-general")
    assert "switched off" in info.value.message
    assert tp.credits()["available"] == 50


def test_same_seed_same_image_and_record_round_trip(tp):
    a = tp.generate("a blue star", "fake-draft", seed=42)
    b = tp.generate("a blue star", "fake-draft", seed=42)
    from PIL import Image, ImageChops

    with Image.open(a.paths[0]) as ia, Image.open(b.paths[0]) as ib:
        assert ImageChops.difference(ia.convert("RGB"), ib.convert("RGB")).getbbox() is None
    record = read_record(str(a.paths[0]))
    assert record["prompt"] == "a blue star" and record["seed"] == 42
    assert record["model"] == "fake-draft" and record["credits"] == 1
    assert record["width"] == 64 and record["steps"] is not None
    assert a.images[0]["sha256"] != "" and a.paths[0].suffix == ".png"
    with Image.open(a.paths[0]) as image:
        assert "Seed: 42" in image.text["parameters"]
        assert image.text["parameters"].startswith("a blue star\n")
    assert a.images[0]["record"] == record


def test_idempotency_same_key_same_job(tp):
    first = tp.generate("a cat", "fake-general", seed=1, idempotency_key="k1")
    again = tp.generate("a cat", "fake-general", seed=1, idempotency_key="k1")
    assert again.id == first.id
    assert tp.credits()["available"] == 45
    with pytest.raises(IdempotencyConflict):
        tp.generate("a dog", "fake-general", seed=1, idempotency_key="k1")


def test_idempotency_while_queued_returns_the_queued_job(tp):
    job = tp.submit("a cat", "fake-general", seed=3, idempotency_key="k2")
    again = tp.submit("a cat", "fake-general", seed=3, idempotency_key="k2")
    assert again["id"] == job["id"] and again["status"] == "queued"
    assert tp.credits()["held"] == 5


def test_cancel_queued_refunds(tp):
    job = tp.submit("a cat", "fake-general")
    assert tp.credits()["available"] == 45
    assert tp.cancel(job["id"])["status"] == "canceled"
    assert tp.credits()["available"] == 50
    assert tp.run(job["id"])["status"] == "canceled"  # a late worker does nothing
    assert tp.verify_ledger() == []


def test_cancel_while_running_refunds_when_engine_returns(tp, fake_factory):
    holder = {}

    def cancel_midway(_request):
        tp.cancel(holder["id"])

    fake_factory.engine("fake-general").before_return = cancel_midway
    job = tp.submit("a cat", "fake-general")
    holder["id"] = job["id"]
    assert tp.run(job["id"])["status"] == "canceled"
    assert tp.credits()["available"] == 50 and tp.verify_ledger() == []


def test_another_users_job_is_not_found(tp):
    from triptych.errors import NotFound

    job = tp.generate("a cat", "fake-draft")
    bob = tp.as_user("bob@example.com")
    with pytest.raises(NotFound):
        bob.job(job.id)
    with pytest.raises(NotFound):
        bob.cancel(job.id)
    with pytest.raises(NotFound):
        bob.image(job.images[0]["id"])
    assert bob.history() == []


def test_jobs_in_flight_are_capped(tp, settings):
    for _ in range(settings.max_jobs_in_flight):
        tp.submit("a cat", "fake-draft")
    with pytest.raises(TooManyJobs):
        tp.submit("a cat", "fake-draft")


def test_stale_queued_job_expires_and_refunds(tp, clock):
    job = tp.submit("a cat", "fake-general")
    clock.advance(hours=2)
    assert job["id"] in tp.jobs.recover(hold_ttl=timedelta(hours=1))["voided"]
    assert tp.credits()["available"] == 50


def test_rerender_keeps_prompt_and_seed(tp):
    draft = tp.generate("a green frog", "fake-draft", seed=99)
    final = tp.rerender(draft.id, "fake-premium")
    assert final.job["prompt"] == "a green frog" and final.job["seed"] == 99
    assert final.job["parent_job_id"] == draft.id and final.cost == 15


def test_history_search_and_delete(tp, clock):
    tp.generate("a red apple", "fake-draft")
    clock.advance(days=2)
    tp.generate("a blue bus", "fake-general")
    assert [j["prompt"] for j in tp.history("apple")] == ["a red apple"]
    assert [j["model"] for j in tp.history(model="fake-general")] == ["fake-general"]
    assert len(tp.history(since=clock.now - timedelta(days=1))) == 1
    bus = tp.history("bus")[0]
    tp.delete_image(bus["images"][0]["id"])
    assert tp.history("bus")[0]["images"] == []  # the job and its charge stay on record
    assert tp.verify_ledger() == []


def test_partial_batch_charges_only_what_was_delivered(tp, fake_factory):
    engine = fake_factory.engine("fake-general")
    engine.deliver = 2  # of 3: the provider blocked one image
    out = tp.generate("a cat", "fake-general", n=3)
    assert len(out.paths) == 2 and out.job["charged"] == 10 and out.cost == 15
    assert out.job["notes"]["delivered"] == "2 of 3"
    credits = tp.credits()
    assert credits["available"] == 40 and credits["held"] == 0
    assert tp.verify_ledger() == []


def test_provider_unavailable_is_said_once(tp, fake_factory):
    from triptych.engines.errors import ProviderUnavailableError

    fake_factory.engine("fake-general").fail_with = ProviderUnavailableError(
        "Provider unavailable: the provider is down.")
    with pytest.raises(JobFailed) as info:
        tp.generate("a cat", "fake-general")
    assert info.value.message.lower().count("provider unavailable") == 1


def test_progress_reaches_subscribers_throttled_and_the_caller_whole(tp, fake_factory):
    """A model stepping faster than anyone can watch: the caller's callback sees every step,
    the hub (what SSE clients, possibly in other processes, receive) a few."""
    from PIL import Image as PILImage

    from triptych.engines.base import EngineImage, EngineResult

    class Stepper:
        def generate(self, request, progress=None):
            for step in range(200):
                progress((step + 1) / 200, PILImage.new("RGB", (8, 8), "gray"))
            return EngineResult(images=[EngineImage(PILImage.new("RGB", (64, 64), "red"))])

    fake_factory.engines["fake-draft"] = Stepper()
    job = tp.submit("a cat", "fake-draft")
    events = tp.ctx.hub.subscribe(job["id"])
    seen: list[float] = []
    tp.run(job["id"], progress=lambda fraction, _preview: seen.append(fraction))
    published = []
    while not events.empty():
        published.append(events.get_nowait())
    running = [e for e in published if e.status == "running"]
    assert len(seen) == 200
    assert 1 <= len(running) < 50 and running[0].preview_png is not None
    assert published[-1].status == "succeeded"
