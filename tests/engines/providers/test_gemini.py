"""Gemini generateContent: blocks arrive as HTTP 200; text-only answers are failures."""

from __future__ import annotations

import time

import pytest
from provider_fakes import FAST, KEY, FakeGemini, FakeServer, Resp, b64, png_bytes

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderAuthError,
    ProviderUnavailableError,
    RetryableError,
)

PATH = r"/v1beta/models/[^/:]+:generateContent"
MODELS = r"/v1beta/models(\?.*)?"


def bad_key(with_error_info: bool = True) -> Resp:
    """Gemini's answer to a wrong key: 400 INVALID_ARGUMENT, ErrorInfo reason API_KEY_INVALID."""
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}},
               {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key."}]
    return Resp(400, json={"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT", "details": details if with_error_info else []}})


def quota(delay: str) -> Resp:
    """A 429 whose only word on when to come back is RetryInfo.retryDelay in the body."""
    return Resp(429, json={"error": {
        "code": 429, "status": "RESOURCE_EXHAUSTED",
        "message": "You exceeded your current quota, please check your plan and billing "
                   "details.",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/"
                               "generate_content_free_tier_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.Help", "links": [{
                "description": "Learn more about Gemini API quotas",
                "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
        ]}})


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


def test_block_reason_is_told_in_plain_words(gem: FakeGemini) -> None:
    gem.main.route("POST", PATH, Resp(json={"promptFeedback": {
        "blockReason": "PROHIBITED_CONTENT"}}))
    with pytest.raises(ModerationError) as info:
        gem.engine().generate(req())
    assert "(reason: prohibited content)" in info.value.message


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


@pytest.mark.parametrize("with_error_info", [True, False], ids=["error-info", "message-only"])
def test_invalid_api_key_is_an_auth_failure(gem: FakeGemini, with_error_info: bool) -> None:
    gem.main.route("POST", PATH, bad_key(with_error_info))
    with pytest.raises(ProviderAuthError) as info:
        gem.engine().generate(req())
    assert "API key" in info.value.message and "TRIPTYCH_GEMINI_API_KEY" in info.value.message
    assert "rejected the request as invalid" not in info.value.message
    assert len(gem.main.calls_to("POST", PATH)) == 1


@pytest.mark.parametrize("with_error_info", [True, False], ids=["error-info", "message-only"])
def test_check_reports_invalid_api_key_as_auth_failed(gem: FakeGemini,
                                                      with_error_info: bool) -> None:
    gem.main.route("GET", MODELS, bad_key(with_error_info))
    result = gem.engine().check()
    assert result.status == "auth_failed" and KEY not in result.detail


def test_429_retry_delay_in_the_body_is_waited_for(gem: FakeGemini) -> None:
    gem.main.once("POST", PATH, quota("0.4s"))
    gem.engine().generate(req())
    first, second = gem.main.calls_to("POST", PATH)
    assert second.at - first.at >= 0.39  # RetryInfo.retryDelay, not the 10 ms test backoff


def test_429_retry_delay_past_the_cap_fails_retryable_with_the_delay(gem: FakeGemini) -> None:
    gem.main.route("POST", PATH, quota("37s"))
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        gem.engine().generate(req())
    assert time.monotonic() - started < FAST.retry.max_retry_after  # not slept through
    assert len(gem.main.calls_to("POST", PATH)) == 1  # not hammered either
    assert info.value.retry_after == 37.0


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
