"""Replicate predictions: Prefer: wait, then poll; succeeded/failed/canceled/aborted."""

from __future__ import annotations

import pytest
from provider_fakes import TIGHT, FakeReplicate, FakeServer, Resp

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderUnavailableError,
    RetryableError,
)

SUBMIT = r"/v1/models/acme/painter/predictions"


@pytest.fixture
def rep(main_server: FakeServer, alt_server: FakeServer) -> FakeReplicate:
    return FakeReplicate(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a still life", "width": 1024, "height": 768,
                                "seed": 4, "target": "acme/painter", **kw})


def test_prefer_wait_then_poll(rep: FakeReplicate) -> None:
    result = rep.engine().generate(req(n=2, options={"output_format": "png"}))
    call = rep.main.calls_to("POST", SUBMIT)[0]
    assert call.headers["prefer"].startswith("wait=")
    assert call.headers["cancel-after"].endswith("s")
    assert call.json() == {"input": {"prompt": "a still life", "seed": 4, "aspect_ratio": "4:3",
                                     "num_outputs": 2, "output_format": "png"}}
    assert len(rep.main.calls_to("GET", r"/v1/predictions/p1")) == 2
    assert result.model_version == "v123" and result.notes["predict_time_s"] == 1.5


def test_sync_answer_needs_no_poll(rep: FakeReplicate) -> None:
    rep.main.route("POST", SUBMIT, Resp(201, json={
        "id": "p9", "status": "succeeded", "output": rep.file_url("x.png")}))
    result = rep.engine().generate(req())
    assert len(result.images) == 1
    assert rep.main.calls_to("GET", r"/v1/predictions/.*") == []


def test_versioned_model_uses_predictions_endpoint(rep: FakeReplicate) -> None:
    rep.main.route("POST", r"/v1/predictions", Resp(201, json={"id": "p1",
                                                               "status": "starting"}))
    rep.engine().generate(req(target="acme/painter:abc123"))
    assert rep.main.calls_to("POST", r"/v1/predictions")[0].json()["version"] == "abc123"


def test_failed_nsfw_is_output_moderation(rep: FakeReplicate) -> None:
    rep.final = {"status": "failed", "output": None,
                 "error": "NSFW content detected. Try running it again, or try a different "
                          "prompt."}
    with pytest.raises(ModerationError) as info:
        rep.engine().generate(req())
    assert info.value.side == "output"


def test_failed_other_is_fatal(rep: FakeReplicate) -> None:
    rep.final = {"status": "failed", "output": None, "error": "CUDA error"}
    with pytest.raises(FatalError):
        rep.engine().generate(req())


def test_canceled_is_fatal_and_aborted_is_retryable(rep: FakeReplicate) -> None:
    rep.final = {"status": "canceled", "output": None}
    with pytest.raises(FatalError):
        rep.engine().generate(req())
    rep.polls = 0
    rep.final = {"status": "aborted", "output": None}
    with pytest.raises(RetryableError):
        rep.engine().generate(req())


def test_deadline_cancels_the_prediction(rep: FakeReplicate) -> None:
    rep.main.route("GET", r"/v1/predictions/p1", Resp(json={"id": "p1",
                                                             "status": "processing"}))
    with pytest.raises(RetryableError):
        rep.engine(config=TIGHT).generate(req())
    assert len(rep.main.calls_to("POST", r"/v1/predictions/p1/cancel")) == 1


def test_output_that_is_not_a_uri_is_malformed(rep: FakeReplicate) -> None:
    rep.final = {"status": "succeeded", "output": {"weird": True}}
    with pytest.raises(FatalError) as info:
        rep.engine().generate(req())
    assert "malformed" in info.value.message


def test_validation_error_names_the_field(rep: FakeReplicate) -> None:
    rep.main.route("POST", SUBMIT, Resp(422, json={
        "title": "Input validation failed", "status": 422,
        "detail": "- input.aspect_ratio: aspect_ratio must be one of ..."}))
    with pytest.raises(InvalidRequestError) as info:
        rep.engine().generate(req())
    assert info.value.field == "size"


def test_unknown_model_is_unavailable(rep: FakeReplicate) -> None:
    rep.main.route("POST", SUBMIT, Resp(404, json={"title": "Not found", "status": 404}))
    with pytest.raises(ProviderUnavailableError):
        rep.engine().generate(req())


def test_target_must_be_owner_slash_name(rep: FakeReplicate) -> None:
    with pytest.raises(ProviderUnavailableError):
        rep.engine().generate(req(target="painter"))
    assert rep.main.calls == []
