"""BFL: submit, poll the returned polling_url (on another host), download result.sample."""

from __future__ import annotations

import time

import pytest
from provider_fakes import FAST, KEY, TIGHT, FakeBfl, FakeServer, Resp

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderUnavailableError,
    RetryableError,
)


@pytest.fixture
def bfl(main_server: FakeServer, alt_server: FakeServer) -> FakeBfl:
    return FakeBfl(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a lighthouse", "width": 1024, "height": 1024,
                                "seed": 11, "target": "flux-2-pro", **kw})


def test_async_flow_polls_the_returned_url_on_another_host(bfl: FakeBfl) -> None:
    seen: list[float] = []
    result = bfl.engine().generate(req(), progress=lambda f, _img: seen.append(f))
    submit = bfl.main.calls_to("POST", r"/v1/flux-2-pro")[0].json()
    assert submit == {"prompt": "a lighthouse", "width": 1024, "height": 1024, "seed": 11,
                      "output_format": "png", "safety_tolerance": 2}
    polls = bfl.alt.calls_to("GET", r"/v1/get_result.*")
    assert len(polls) == 3 and all(p.headers["x-key"] == KEY for p in polls)
    assert bfl.main.calls_to("GET", r"/v1/get_result.*") == []  # the URL was not rebuilt
    download = bfl.alt.calls_to("GET", r"/files/.*")[0]
    assert "x-key" not in download.headers
    assert result.provider_cost == "4.5 BFL credits"
    assert result.images[0].notes["seed"] == 7
    assert seen[-1] == 1.0 and 0.0 < seen[0] < 1.0


def test_polling_url_on_an_untrusted_host_gets_no_key(bfl: FakeBfl) -> None:
    with pytest.raises(ProviderUnavailableError) as info:
        bfl.engine(trusted_hosts=()).generate(req())
    assert "127.0.0.2" in info.value.detail
    assert bfl.alt.calls == []


@pytest.mark.parametrize(("status", "side"), [("Request Moderated", "input"),
                                              ("Content Moderated", "output")])
def test_moderation_statuses(bfl: FakeBfl, status: str, side: str) -> None:
    bfl.final = {"status": status, "result": None, "details": {"reason": "nsfw"}}
    with pytest.raises(ModerationError) as info:
        bfl.engine().generate(req())
    assert info.value.side == side
    assert bfl.alt.calls_to("GET", r"/files/.*") == []


@pytest.mark.parametrize("status", ["Error", "Task not found", "Failed", "Weird"])
def test_failure_statuses_are_fatal(bfl: FakeBfl, status: str) -> None:
    bfl.final = {"status": status, "result": None, "details": "boom"}
    with pytest.raises(FatalError) as info:
        bfl.engine().generate(req())
    assert status in info.value.detail


def test_polling_deadline(bfl: FakeBfl) -> None:
    bfl.alt.route("GET", r"/v1/get_result\?id=task-1",
                  Resp(json={"id": "task-1", "status": "Pending", "progress": 0.1}))
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        bfl.engine(config=TIGHT).generate(req())
    assert "did not finish" in info.value.message
    assert time.monotonic() - started < TIGHT.poll_deadline + 4


def test_5xx_storm_while_polling_is_retried_then_fails(bfl: FakeBfl) -> None:
    bfl.alt.route("GET", r"/v1/get_result\?id=task-1", Resp(500, json={"detail": "oops"}))
    with pytest.raises(RetryableError):
        bfl.engine().generate(req())
    assert len(bfl.alt.calls_to("GET", r"/v1/get_result.*")) == FAST.retry.attempts
    assert len(bfl.main.calls_to("POST", r"/v1/flux-2-pro")) == 1


def test_retry_after_beyond_the_cap_is_not_slept_through(bfl: FakeBfl) -> None:
    bfl.main.route("POST", r"/v1/flux-2-pro", Resp(429, headers={"retry-after": "3600"}))
    with pytest.raises(RetryableError) as info:
        bfl.engine().generate(req())
    assert info.value.retry_after == 3600
    assert len(bfl.main.calls) == 1


def test_429_retry_after_in_the_body_is_waited_for(bfl: FakeBfl) -> None:
    bfl.main.once("POST", r"/v1/flux-2-pro", Resp(429, json={
        "error": "rate_limit_exceeded", "message": "Too many active tasks", "retry_after": 0.4}))
    bfl.engine().generate(req())
    first, second = bfl.main.calls_to("POST", r"/v1/flux-2-pro")
    assert second.at - first.at >= 0.39


def test_body_retry_after_beyond_the_cap_fails_retryable_with_the_delay(bfl: FakeBfl) -> None:
    bfl.main.route("POST", r"/v1/flux-2-pro", Resp(429, json={
        "error": "rate_limit_exceeded", "message": "Too many active tasks", "retry_after": 30}))
    with pytest.raises(RetryableError) as info:
        bfl.engine().generate(req())
    assert info.value.retry_after == 30
    assert len(bfl.main.calls_to("POST", r"/v1/flux-2-pro")) == 1


def test_expired_signed_url_is_fatal(bfl: FakeBfl) -> None:
    bfl.alt.route("GET", r"/files/.*", Resp(403, body=b"<Error>Request has expired</Error>"))
    with pytest.raises(FatalError) as info:
        bfl.engine().generate(req())
    assert "could not be downloaded" in info.value.message


def test_validation_error_names_the_field(bfl: FakeBfl) -> None:
    bfl.main.route("POST", r"/v1/flux-2-pro", Resp(422, json={"detail": [
        {"loc": ["body", "width"], "msg": "must be a multiple of 16", "type": "value_error"}]}))
    with pytest.raises(InvalidRequestError) as info:
        bfl.engine().generate(req())
    assert info.value.field == "size"


def test_size_is_snapped_and_noted(bfl: FakeBfl) -> None:
    result = bfl.engine().generate(req(width=1000, height=3000))
    sent = bfl.main.calls_to("POST", r"/v1/flux-2-pro")[0].json()
    assert sent["width"] % 16 == 0 and sent["height"] % 16 == 0
    assert sent["width"] * sent["height"] <= 4 * 1024 * 1024
    assert "requested 1000x3000" in result.notes["size"]


def test_n_above_one_is_refused_before_any_call(bfl: FakeBfl) -> None:
    with pytest.raises(InvalidRequestError) as info:
        bfl.engine().generate(req(n=2))
    assert info.value.field == "n" and bfl.main.calls == []


def test_klein_uses_its_own_endpoint(bfl: FakeBfl) -> None:
    bfl.main.route("POST", r"/v1/flux-2-klein-4b", Resp(json={
        "id": "task-1", "polling_url": f"{bfl.alt.url}/v1/get_result?id=task-1", "cost": 1}))
    result = bfl.engine().generate(req(target="flux-2-klein-4b"))
    assert result.model_version == "flux-2-klein-4b"
