"""Behaviour every hosted adapter shares, run against each provider's fake over real HTTP."""

from __future__ import annotations

import importlib
import logging
import os

import pytest
from PIL import Image
from provider_fakes import FAST, KEY, TIGHT, Fake, Resp, png_bytes, text

from triptych.catalog.card import ModelCard
from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ProviderAuthError,
    ProviderOutOfCreditError,
    ProviderUnavailableError,
    RetryableError,
)
from triptych.settings import Settings


def request_for(fake: Fake, **kw) -> GenerationRequest:
    base = dict(prompt="a red fox in the snow", width=1024, height=1024, seed=7,
                target=fake.target)
    base.update(kw)
    return GenerationRequest(**base)


def submits(fake: Fake) -> list:
    return fake.main.calls_to(*fake.submit)


def test_success_decodes_image_and_authenticates(fake: Fake) -> None:
    result = fake.engine().generate(request_for(fake))
    assert len(result.images) == 1
    image = result.images[0].image
    assert isinstance(image, Image.Image) and image.size == (64, 48)
    assert image.getpixel((1, 1))[:3] == (200, 30, 30)
    call = submits(fake)[0]
    assert call.headers[fake.auth_header] == fake.auth_value
    assert KEY not in repr(result.notes) and KEY not in repr(result.images[0].notes)


def test_results_are_downloaded_without_credentials(fake: Fake) -> None:
    if not fake.url_results:
        pytest.skip("this provider returns the image inline")
    fake.engine().generate(request_for(fake))
    downloads = fake.alt.calls_to("GET", r"/files/.*")
    assert len(downloads) == 1
    assert all(KEY not in v for v in downloads[0].headers.values())


def test_429_with_retry_after_then_success(fake: Fake) -> None:
    fake.main.once(*fake.submit, Resp(429, json={"error": "slow down"},
                                      headers={"retry-after": "0.3"}))
    result = fake.engine().generate(request_for(fake))
    assert len(result.images) == 1
    first, second = submits(fake)[:2]
    assert len(submits(fake)) == 2
    assert second.at - first.at >= 0.29  # the provider's Retry-After was honoured


def test_5xx_storm_ends_in_retryable_failure(fake: Fake) -> None:
    fake.main.route(*fake.submit, Resp(503, json={"error": {"message": "overloaded"}},
                                       headers=fake.storm_headers))
    with pytest.raises(RetryableError) as info:
        fake.engine().generate(request_for(fake))
    # A billed submit is repeated only where the provider guarantees that is safe.
    expected = FAST.retry.attempts if fake.retries_submit_5xx else 1
    assert len(submits(fake)) == expected
    assert "503" in info.value.detail


def test_timeout_is_retryable(fake: Fake) -> None:
    # longer than the read timeout plus Replicate's ``Prefer: wait`` allowance
    fake.main.once(*fake.submit, *[Resp(delay=TIGHT.read_timeout + 2.0)] * 5)
    with pytest.raises(RetryableError) as info:
        fake.engine(config=TIGHT).generate(request_for(fake))
    assert "timed out" in info.value.message


def test_malformed_result_is_fatal(fake: Fake) -> None:
    fake.image = b"this is not a png at all"
    with pytest.raises(FatalError) as info:
        fake.engine().generate(request_for(fake))
    assert "malformed" in info.value.message


def test_truncated_image_is_fatal(fake: Fake) -> None:
    fake.image = png_bytes(256, 256)[:-200]
    with pytest.raises(FatalError):
        fake.engine().generate(request_for(fake))


def test_oversized_result_is_refused(fake: Fake) -> None:
    fake.image = png_bytes() + os.urandom(1_200_000)
    with pytest.raises(FatalError) as info:
        fake.engine().generate(request_for(fake))
    assert "larger than Triptych accepts" in info.value.message


def test_plain_text_error_body(fake: Fake) -> None:
    fake.main.route(*fake.submit, text(400, f"bad things happened (key {KEY})"))
    with pytest.raises(InvalidRequestError) as info:
        fake.engine().generate(request_for(fake))
    assert "bad things happened" in info.value.detail
    assert KEY not in info.value.detail and KEY not in info.value.message


def test_plain_text_gateway_error_is_retryable(fake: Fake) -> None:
    fake.main.route(*fake.submit, text(502, "<html>Bad Gateway</html>"))
    with pytest.raises(RetryableError) as info:
        fake.engine().generate(request_for(fake))
    assert "Bad Gateway" in info.value.detail


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_provider_unavailable_without_the_key(fake: Fake, status: int) -> None:
    fake.main.route(*fake.submit, Resp(status, json={"error": f"invalid key {KEY}",
                                                     "detail": f"invalid key {KEY}"}))
    with pytest.raises(ProviderAuthError) as info:
        fake.engine().generate(request_for(fake))
    assert "provider unavailable" in info.value.message.lower()
    assert f"TRIPTYCH_{fake.module.upper()}_API_KEY" in info.value.message  # what to check
    assert KEY not in info.value.message
    assert KEY not in (info.value.detail or "") and "***" in info.value.detail
    assert len(submits(fake)) == 1


def test_out_of_credit(fake: Fake) -> None:
    if fake.name == "openai":
        resp = fake.error(429, code="insufficient_quota", type="insufficient_quota")
    else:
        resp = fake.error(402)
    fake.main.route(*fake.submit, resp)
    with pytest.raises(ProviderOutOfCreditError) as info:
        fake.engine().generate(request_for(fake))
    assert "provider unavailable" in info.value.message.lower()
    assert len(submits(fake)) == 1  # out of credit is not retried


def test_unrestricted_mode_only_where_supported(fake: Fake) -> None:
    req = request_for(fake, content_mode="unrestricted")
    if fake.name == "xai":
        result = fake.engine().generate(req)
        assert "content_mode" in result.notes
        return
    with pytest.raises(InvalidRequestError) as info:
        fake.engine().generate(req)
    assert info.value.field == "content_mode"
    assert fake.main.calls == []  # refused before any HTTP call


def test_empty_prompt_refused_before_http(fake: Fake) -> None:
    with pytest.raises(InvalidRequestError) as info:
        fake.engine().generate(request_for(fake, prompt="  "))
    assert info.value.field == "prompt"
    assert fake.main.calls == []


def test_key_never_logged(fake: Fake, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.main.once(*fake.submit, Resp(429, headers={"retry-after": "0"}))
    fake.engine().generate(request_for(fake))
    assert KEY not in caplog.text


def _card(fake: Fake) -> ModelCard:
    return ModelCard(id=f"test-{fake.name}", name="t", provider=fake.name, family="diffusion",
                     tier="fast", credits=3, quality="good", description="t", max_width=2048,
                     max_height=2048, default_width=1024, default_height=1024,
                     engine=f"{fake.module}:{fake.target}")


def test_missing_key_is_listed_unavailable_with_reason(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    env = f"TRIPTYCH_{fake.module.upper()}_API_KEY"
    monkeypatch.delenv(env, raising=False)
    factory = importlib.import_module(f"triptych.engines.providers.{fake.module}").factory
    settings = Settings(home=tmp_path, _env_file=None)
    status = factory.availability(_card(fake), settings)
    assert not status.available and env in status.reason
    with pytest.raises(ProviderUnavailableError):
        factory.create(_card(fake), settings)


def test_factory_builds_engine_from_settings(
        fake: Fake, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(f"TRIPTYCH_{fake.module.upper()}_API_KEY", KEY)
    monkeypatch.setenv(f"TRIPTYCH_{fake.module.upper()}_BASE_URL", fake.main.url)
    module = importlib.import_module(f"triptych.engines.providers.{fake.module}")
    settings = Settings(home=tmp_path, _env_file=None)
    assert module.factory.availability(_card(fake), settings).available
    engine = module.factory.create(_card(fake), settings)
    assert engine.http.base_url == fake.main.url


def test_check_reports_ok_and_auth_failure(fake: Fake) -> None:
    engine = fake.engine()
    good = engine.check()
    assert good.status == ("unverified" if fake.name == "byteplus" else "ok"), good
    if fake.name == "byteplus":
        assert fake.main.calls == []  # no free endpoint: nothing is spent
        return
    fake.main.route("GET", r".*", Resp(401, json={"error": f"bad key {KEY}"}))
    bad = engine.check()
    assert bad.status == "auth_failed" and KEY not in bad.detail


def test_steps_are_sent_or_noted_as_ignored(fake: Fake) -> None:
    result = fake.engine().generate(request_for(fake, steps=12))
    body = submits(fake)[0].json() or {}
    sent = 12 in body.values() or 12 in (body.get("input") or {}).values()
    assert sent or "steps" in result.notes, (body, result.notes)
