"""fal queue API: submit, status (on another host), result; COMPLETED can carry an error."""

from __future__ import annotations

import pytest
from provider_fakes import KEY, TIGHT, FakeFal, FakeServer, Resp, b64

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderOutOfCreditError,
    RetryableError,
)

SUBMIT = r"/fal-ai/bitdance"
STATUS = r"/fal-ai/bitdance/requests/req-1/status"
RESULT = r"/fal-ai/bitdance/requests/req-1"


def policy_violation(msg: str, loc: list[str]) -> Resp:
    """fal's answer to the result fetch when its content checker blocked the request."""
    return Resp(422, json={"detail": [{
        "loc": loc, "msg": msg, "type": "content_policy_violation",
        "url": "https://docs.fal.ai/errors#content_policy_violation",
        "ctx": {}, "input": "a portrait"}]})


@pytest.fixture
def fal(main_server: FakeServer, alt_server: FakeServer) -> FakeFal:
    return FakeFal(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a portrait", "width": 1024, "height": 768,
                                "seed": 5, "target": "fal-ai/bitdance", **kw})


def test_queue_flow(fal: FakeFal) -> None:
    seen: list[float] = []
    result = fal.engine().generate(req(steps=30, options={"guidance_scale": 6}),
                                   progress=lambda f, _i: seen.append(f))
    body = fal.main.calls_to("POST", SUBMIT)[0].json()
    assert body == {"guidance_scale": 6, "prompt": "a portrait",
                    "image_size": {"width": 1024, "height": 768}, "num_images": 1, "seed": 5,
                    "enable_safety_checker": True, "num_inference_steps": 30}
    statuses = fal.alt.calls_to("GET", STATUS)
    assert len(statuses) == 3
    assert all(c.headers["authorization"] == f"Key {KEY}" for c in statuses)
    assert len(fal.alt.calls_to("GET", r"/fal-ai/bitdance/requests/req-1")) == 1
    assert result.notes["provider_seed"] == 42 and seen[-1] == 1.0


def test_completed_with_content_policy_error_is_moderation(fal: FakeFal) -> None:
    fal.statuses = [{"status": "COMPLETED", "error": "Prompt flagged",
                     "error_type": "content_policy_violation"}]
    with pytest.raises(ModerationError) as info:
        fal.engine().generate(req())
    assert info.value.side == "input"
    assert fal.alt.calls_to("GET", r"/fal-ai/bitdance/requests/req-1") == []


def test_result_fetch_422_content_policy_is_input_moderation(fal: FakeFal) -> None:
    fal.alt.route("GET", RESULT, policy_violation(
        "The content could not be processed because it contained material flagged by a "
        "content checker.", ["body", "prompt"]))
    with pytest.raises(ModerationError) as info:
        fal.engine().generate(req())
    assert info.value.side == "input"
    assert "content_policy_violation" in info.value.detail
    assert len(fal.alt.calls_to("GET", RESULT)) == 1  # a verdict, not retried


def test_result_fetch_422_about_the_generated_image_is_output_moderation(fal: FakeFal) -> None:
    fal.alt.route("GET", RESULT, policy_violation(
        "The generated image was flagged by a content checker.", ["body"]))
    with pytest.raises(ModerationError) as info:
        fal.engine().generate(req())
    assert info.value.side == "output"


def test_completed_with_other_error_is_fatal(fal: FakeFal) -> None:
    fal.statuses = [{"status": "COMPLETED", "error": "CUDA out of memory",
                     "error_type": "runner_error"}]
    with pytest.raises(FatalError) as info:
        fal.engine().generate(req())
    assert "CUDA out of memory" in info.value.detail


def test_all_images_flagged_nsfw_is_output_moderation(fal: FakeFal) -> None:
    fal.output["has_nsfw_concepts"] = [True]
    with pytest.raises(ModerationError) as info:
        fal.engine().generate(req())
    assert info.value.side == "output"
    assert fal.alt.calls_to("GET", r"/files/.*") == []


def test_some_images_flagged_are_dropped_and_noted(fal: FakeFal) -> None:
    fal.output["images"] = fal.output["images"] * 2
    fal.output["has_nsfw_concepts"] = [True, False]
    result = fal.engine().generate(req(n=2))
    assert len(result.images) == 1 and result.notes["moderated_images"] == 1


def test_data_uri_images_are_decoded(fal: FakeFal) -> None:
    fal.output["images"] = [{"url": f"data:image/png;base64,{b64(fal.image)}"}]
    result = fal.engine().generate(req())
    assert result.images[0].image.size == (64, 48)


def test_ingress_503_is_retried_but_an_app_503_is_not(fal: FakeFal) -> None:
    fal.main.once("POST", SUBMIT, Resp(503, body=b"upstream connect error"))
    fal.engine().generate(req())
    assert len(fal.main.calls_to("POST", SUBMIT)) == 2

    fal.main.calls.clear()
    fal.main.once("POST", SUBMIT, Resp(503, json={"detail": "app crashed"},
                                       headers={"x-fal-request-id": "abc"}))
    with pytest.raises(RetryableError):
        fal.engine().generate(req())
    assert len(fal.main.calls_to("POST", SUBMIT)) == 1


def test_validation_error_names_the_field(fal: FakeFal) -> None:
    fal.main.route("POST", SUBMIT, Resp(422, json={"detail": [
        {"loc": ["body", "num_inference_steps"], "msg": "<= 100", "type": "value_error"}]}))
    with pytest.raises(InvalidRequestError) as info:
        fal.engine().generate(req())
    assert info.value.field == "num_inference_steps"


def test_exhausted_balance_is_out_of_credit(fal: FakeFal) -> None:
    fal.main.route("POST", SUBMIT, Resp(403, json={
        "detail": "User is locked. Reason: Exhausted balance."}))
    with pytest.raises(ProviderOutOfCreditError):
        fal.engine().generate(req())


def test_stuck_in_queue_hits_the_deadline(fal: FakeFal) -> None:
    fal.statuses = [{"status": "IN_QUEUE", "queue_position": 3}]
    with pytest.raises(RetryableError) as info:
        fal.engine(config=TIGHT).generate(req())
    assert f"{TIGHT.poll_deadline:g} s" in info.value.message


def test_urls_are_built_from_request_id_when_absent(fal: FakeFal) -> None:
    fal.main.route("POST", SUBMIT, Resp(json={"request_id": "req-1"}))
    fal.main.route("GET", STATUS, Resp(json={"status": "COMPLETED"}))
    fal.main.route("GET", r"/fal-ai/bitdance/requests/req-1", Resp(json=fal.output))
    fal.engine().generate(req())
    assert fal.main.calls_to("GET", STATUS)
