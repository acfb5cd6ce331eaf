"""xAI: OpenAI-shaped with aspect_ratio/resolution, flat errors, per-image moderation."""

from __future__ import annotations

import pytest
from provider_fakes import KEY, FakeServer, FakeXai, Resp, b64

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import InvalidRequestError, ModerationError, ProviderAuthError

PATH = r"/v1/images/generations"
# xAI's answer to a wrong key: a 400 in its flat error shape, not a 401.
BAD_KEY = Resp(400, json={"code": "Client specified an invalid argument",
                          "error": "Incorrect API key provided: sk***90. You can obtain an API "
                                   "key from https://console.x.ai."})


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


def test_bad_key_400_is_an_auth_failure(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, BAD_KEY)
    with pytest.raises(ProviderAuthError) as info:
        xai.engine().generate(req())
    assert "TRIPTYCH_XAI_API_KEY" in info.value.message
    assert "rejected the request as invalid" not in info.value.message
    assert "Incorrect API key" in info.value.detail
    assert len(xai.main.calls_to("POST", PATH)) == 1


def test_check_reports_bad_key_400_as_auth_failed(xai: FakeXai) -> None:
    xai.main.route("GET", r"/v1/models", BAD_KEY)
    result = xai.engine().check()
    assert result.status == "auth_failed" and KEY not in result.detail


# xAI documents block_reason on the answer ("blocked by input moderation"), not its values:
# these codes are illustrative. One on an item is read too, as an output block.
def test_item_block_reason_is_output_moderation_in_plain_words(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(json={"data": [{"block_reason": "GRAPHIC_VIOLENCE"}],
                                            "model": "grok-imagine-image"}))
    with pytest.raises(ModerationError) as info:
        xai.engine().generate(req())
    assert info.value.side == "output"
    assert "(reason: graphic violence)" in info.value.message
    assert "GRAPHIC_VIOLENCE" in info.value.detail


def test_item_block_reason_drops_only_that_image(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(json={"data": [
        {"b64_json": b64(xai.image), "respect_moderation": True},
        {"block_reason": "GRAPHIC_VIOLENCE", "b64_json": b64(xai.image)}]}))
    result = xai.engine().generate(req(n=2))
    assert len(result.images) == 1 and result.notes["moderated_images"] == 1
    assert result.notes["moderation_reasons"] == ["GRAPHIC_VIOLENCE"]


def test_answer_block_reason_is_input_moderation(xai: FakeXai) -> None:
    xai.main.route("POST", PATH, Resp(json={"data": [], "block_reason": "GRAPHIC_VIOLENCE"}))
    with pytest.raises(ModerationError) as info:
        xai.engine().generate(req())
    assert info.value.side == "input"
    assert "(reason: graphic violence)" in info.value.message


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
