"""xAI: OpenAI-shaped with aspect_ratio/resolution, flat errors, per-image moderation."""

from __future__ import annotations

import pytest
from provider_fakes import FakeServer, FakeXai, Resp, b64

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import InvalidRequestError, ModerationError

PATH = r"/v1/images/generations"


@pytest.fixture
def xai(main_server: FakeServer, alt_server: FakeServer) -> FakeXai:
    return FakeXai(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a surreal clock", "width": 1024, "height": 1024,
                                "seed": 3, "target": "grok-imagine-image", **kw})


def test_sends_aspect_ratio_and_resolution_never_size(xai: FakeXai) -> None:
    result = xai.engine().generate(req(width=2048, height=1152, n=2))
    body = xai.main.calls_to("POST", PATH)[0].json()
    assert "size" not in body
    assert body["aspect_ratio"] == "16:9" and body["resolution"] == "2k" and body["n"] == 2
    assert len(result.images) == 2
    assert result.images[0].notes["revised_prompt"] == "a revised prompt"
    assert "aspect_ratio 16:9" in result.notes["size"]


def test_all_images_moderated_is_output_moderation(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(json={"data": [{"url": "", "respect_moderation": False}]}))
    with pytest.raises(ModerationError) as info:
        xai.engine().generate(req())
    assert info.value.side == "output"


def test_some_images_moderated_are_dropped_and_noted(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(json={"data": [
        {"b64_json": b64(xai.image), "respect_moderation": True},
        {"respect_moderation": False}]}))
    result = xai.engine().generate(req(n=2))
    assert len(result.images) == 1 and result.notes["moderated_images"] == 1


def test_empty_data_is_output_moderation(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(json={"data": []}))
    with pytest.raises(ModerationError) as info:
        xai.engine().generate(req())
    assert info.value.side == "output"


def test_flat_error_for_generated_image_rejection(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(400, json={
        "code": "Client specified an invalid argument",
        "error": "Generated image rejected by content moderation.", "usage": {}}))
    with pytest.raises(ModerationError) as info:
        xai.engine().generate(req())
    assert info.value.side == "output"


def test_flat_error_for_prompt_moderation(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(400, json={
        "code": "Client specified an invalid argument",
        "error": "Prompt violates our content moderation policy."}))
    with pytest.raises(ModerationError) as info:
        xai.engine().generate(req())
    assert info.value.side == "input"


def test_openai_style_error_body_is_understood_too(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(400, json={"error": {
        "message": "Argument not supported: size", "type": "invalid_request_error"}}))
    with pytest.raises(InvalidRequestError) as info:
        xai.engine().generate(req())
    assert info.value.field == "size"


def test_unrestricted_mode_is_passed_through_and_noted(xai: FakeXai) -> None:
    result = xai.engine().generate(req(content_mode="unrestricted",
                                       options={"xai_unrestricted_field": "unrestricted"}))
    body = xai.main.calls_to("POST", PATH)[0].json()
    assert body["unrestricted"] is True
    assert "unrestricted" in result.notes["content_mode"]


def test_standard_mode_sends_no_unrestricted_field(xai: FakeXai) -> None:
    xai.engine().generate(req(options={"xai_unrestricted_field": "unrestricted"}))
    assert "unrestricted" not in xai.main.calls_to("POST", PATH)[0].json()


def test_n_over_ten_refused(xai: FakeXai) -> None:
    with pytest.raises(InvalidRequestError):
        xai.engine().generate(req(n=11))
    assert xai.main.calls == []
