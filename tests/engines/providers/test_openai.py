"""OpenAI Images: b64_json, 400 moderation_blocked, insufficient_quota, size snapping."""

from __future__ import annotations

import pytest
from provider_fakes import FAST, FakeOpenAI, FakeServer, Resp

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import InvalidRequestError, ModerationError, RetryableError

PATH = r"/v1/images/generations"


@pytest.fixture
def oa(main_server: FakeServer, alt_server: FakeServer) -> FakeOpenAI:
    return FakeOpenAI(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a poster", "width": 1024, "height": 1024,
                                "seed": 1, "target": "gpt-image-1", **kw})


def test_request_shape_and_usage(oa: FakeOpenAI) -> None:
    result = oa.engine().generate(req(n=2, options={"quality": "low", "ignored": 1}))
    body = oa.main.calls_to("POST", PATH)[0].json()
    assert body == {"model": "gpt-image-1", "prompt": "a poster", "n": 2,
                    "size": "1024x1024", "quality": "low"}
    assert len(result.images) == 2 and result.notes["usage"] == {"total_tokens": 10}
    assert "seed" in result.notes


def test_size_snaps_to_the_nearest_supported(oa: FakeOpenAI) -> None:
    result = oa.engine().generate(req(width=1920, height=1080))
    assert oa.main.calls_to("POST", PATH)[0].json()["size"] == "1536x1024"
    assert result.notes["size"] == "requested 1920x1080, sent 1536x1024"


def test_gpt_image_2_takes_free_sizes_on_multiples_of_16(oa: FakeOpenAI) -> None:
    oa.engine().generate(req(target="gpt-image-2", width=1000, height=5000))
    w, h = map(int, oa.main.calls_to("POST", PATH)[0].json()["size"].split("x"))
    assert w % 16 == 0 and h % 16 == 0 and h <= 3 * w + 16 and max(w, h) <= 3840


@pytest.mark.parametrize(("stage", "side"), [("input", "input"), ("output", "output"),
                                             (None, "input")])
def test_moderation_blocked(oa: FakeOpenAI, stage: str | None, side: str) -> None:
    details = {"moderation_stage": stage, "categories": ["x"]} if stage else None
    oa.main.route("POST", PATH, oa.error(
        400, code="moderation_blocked", type="image_generation_user_error",
        message="Your request was rejected by the safety system.",
        **({"moderation_details": details} if details else {})))
    with pytest.raises(ModerationError) as info:
        oa.engine().generate(req())
    assert info.value.side == side
    assert len(oa.main.calls) == 1


def test_content_policy_violation(oa: FakeOpenAI) -> None:
    oa.main.route("POST", PATH, oa.error(400, code="content_policy_violation",
                                         type="invalid_request_error"))
    with pytest.raises(ModerationError):
        oa.engine().generate(req())


def test_invalid_parameter_names_the_field(oa: FakeOpenAI) -> None:
    oa.main.route("POST", PATH, oa.error(400, code="invalid_value", param="size",
                                         type="invalid_request_error"))
    with pytest.raises(InvalidRequestError) as info:
        oa.engine().generate(req())
    assert info.value.field == "size"


def test_x_should_retry_false_is_respected(oa: FakeOpenAI) -> None:
    oa.main.route("POST", PATH, Resp(503, json={"error": {"message": "no"}},
                                     headers={"x-should-retry": "false"}))
    with pytest.raises(RetryableError):
        oa.engine().generate(req())
    assert len(oa.main.calls) == 1


def test_5xx_then_success_is_retried(oa: FakeOpenAI) -> None:
    oa.main.once("POST", PATH, Resp(500, json={"error": {"message": "x"}}))
    oa.engine().generate(req())
    assert len(oa.main.calls_to("POST", PATH)) == 2 <= FAST.retry.attempts


def test_url_results_are_downloaded(oa: FakeOpenAI) -> None:
    oa.serve_files()
    oa.main.route("POST", PATH, Resp(json={"created": 1, "data": [{"url": oa.file_url()}]}))
    result = oa.engine().generate(req())
    assert result.images[0].image.size == (64, 48)
