"""Gemini generateContent: blocks arrive as HTTP 200; text-only answers are failures."""

from __future__ import annotations

import pytest
from provider_fakes import KEY, FakeGemini, FakeServer, Resp, b64, png_bytes

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderUnavailableError,
)

PATH = r"/v1beta/models/[^/:]+:generateContent"


@pytest.fixture
def gem(main_server: FakeServer, alt_server: FakeServer) -> FakeGemini:
    return FakeGemini(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a sign that says OPEN", "width": 1024,
                                "height": 1024, "seed": 1,
                                "target": "gemini-3.1-flash-image-preview", **kw})


def test_request_shape_and_snapped_size(gem: FakeGemini) -> None:
    result = gem.engine().generate(req(width=1920, height=1080))
    call = gem.main.calls_to("POST", PATH)[0]
    assert call.path == "/v1beta/models/gemini-3.1-flash-image-preview:generateContent"
    assert call.headers["x-goog-api-key"] == KEY and "authorization" not in call.headers
    body = call.json()
    assert body["contents"][0]["parts"][0]["text"] == "a sign that says OPEN"
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert "aspectRatio 16:9" in result.notes["size"] and "seed" in result.notes
    assert result.model_version == "gemini-3.1-flash-image-preview-0926"
    assert result.images[0].notes["model_text"] == "Here is your image."


def test_thought_images_are_skipped(gem: FakeGemini) -> None:
    final = png_bytes(color=(0, 0, 255))
    gem.main.route("POST", PATH, Resp(json={"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": b64(png_bytes())}, "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": b64(final)}},
    ]}, "finishReason": "STOP"}]}))
    image = gem.engine().generate(req()).images[0].image
    assert image.getpixel((0, 0))[:3] == (0, 0, 255)


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "OTHER", "IMAGE_SAFETY"])
def test_prompt_block_is_input_moderation(gem: FakeGemini, reason: str) -> None:
    gem.main.route("POST", PATH, Resp(json={"promptFeedback": {"blockReason": reason}}))
    with pytest.raises(ModerationError) as info:
        gem.engine().generate(req())
    assert info.value.side == "input" and reason in info.value.detail


@pytest.mark.parametrize("reason", ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "SAFETY",
                                    "IMAGE_RECITATION"])
def test_output_block_is_output_moderation(gem: FakeGemini, reason: str) -> None:
    gem.main.route("POST", PATH, Resp(json={"candidates": [{
        "content": {"parts": []}, "finishReason": reason, "finishMessage": "blocked"}]}))
    with pytest.raises(ModerationError) as info:
        gem.engine().generate(req())
    assert info.value.side == "output"


@pytest.mark.parametrize("reason", ["STOP", "NO_IMAGE", "IMAGE_OTHER", "MAX_TOKENS"])
def test_text_only_answer_is_a_failure(gem: FakeGemini, reason: str) -> None:
    gem.main.route("POST", PATH, Resp(json={"candidates": [{
        "content": {"parts": [{"text": "I can only describe it: a sign."}]},
        "finishReason": reason}]}))
    with pytest.raises(FatalError) as info:
        gem.engine().generate(req())
    assert "describe it" in info.value.detail


def test_invalid_api_key_is_unavailable(gem: FakeGemini) -> None:
    gem.main.route("POST", PATH, Resp(400, json={"error": {
        "code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "API_KEY_INVALID"}]}}))
    with pytest.raises(ProviderUnavailableError):
        gem.engine().generate(req())


def test_billing_precondition_is_unavailable(gem: FakeGemini) -> None:
    gem.main.route("POST", PATH, gem.error(400, status="FAILED_PRECONDITION"))
    with pytest.raises(ProviderUnavailableError):
        gem.engine().generate(req())


def test_invalid_argument(gem: FakeGemini) -> None:
    gem.main.route("POST", PATH, gem.error(400))
    with pytest.raises(InvalidRequestError):
        gem.engine().generate(req())


def test_one_image_per_request(gem: FakeGemini) -> None:
    with pytest.raises(InvalidRequestError) as info:
        gem.engine().generate(req(n=2))
    assert info.value.field == "n" and gem.main.calls == []


def test_pro_model_reaches_4k(gem: FakeGemini) -> None:
    gem.engine().generate(req(target="gemini-3-pro-image-preview", width=4096, height=4096))
    body = gem.main.calls_to("POST", PATH)[0].json()
    assert body["generationConfig"]["imageConfig"]["imageSize"] == "4K"
