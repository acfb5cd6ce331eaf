"""The official ``openai`` package, unchanged, against a running Triptych server."""

from __future__ import annotations

import base64
import io
import threading
import time

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import BOTH_DBS
from tests.web.conftest import make_key
from triptych.engines.errors import ModerationError
from triptych.service.provenance import read_record


@pytest.fixture
def counted(live, tp):
    """An OpenAI client on alice's key that counts the HTTP requests it really sends."""
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    key = make_key(tp, "alice@example.com")["Authorization"].removeprefix("Bearer ")
    client = openai.OpenAI(api_key=key, base_url=f"{live.url}/v1", http_client=http,
                           max_retries=2)
    yield client, sent
    http.close()


@BOTH_DBS
def test_generate_b64_default_model(counted, tp):
    client, _ = counted
    result = client.images.generate(prompt="a red circle", n=2, size="64x64")
    assert result.created > 0 and len(result.data) == 2
    png = base64.b64decode(result.data[0].b64_json)
    assert Image.open(io.BytesIO(png)).size == (64, 64)
    assert read_record(png)["prompt"] == "a red circle"  # the generation record rides along
    job = tp.as_user("alice@example.com").history()[0]
    assert (job["model"], job["n"], job["charged"]) == (tp.default_model(), 2, 2)


@BOTH_DBS
def test_credits_header_and_any_catalog_model(counted):
    client, _ = counted
    raw = client.images.with_raw_response.generate(prompt="a cat", model="fake-premium")
    assert raw.headers["x-triptych-credits-charged"] == "15"
    assert raw.parse().data[0].b64_json


def test_url_response_format_is_owner_only(counted, live, tp):
    client, _ = counted
    result = client.images.generate(prompt="a cat", model="fake-general",
                                    response_format="url", user="end-user-7")
    url = result.data[0].url
    assert url.startswith(f"{live.url}/v1/images/") and result.data[0].b64_json is None
    alice = httpx.get(url, headers={"Authorization": f"Bearer {client.api_key}"})
    assert alice.status_code == 200 and alice.content.startswith(b"\x89PNG")
    assert httpx.get(url).status_code == 401
    bob = make_key(tp, "bob@example.com")
    assert httpx.get(url, headers=bob).status_code == 404


def test_moderation_block_is_400_and_not_retried(counted, fake_factory, tp):
    client, sent = counted
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="a gory battlefield")
    assert info.value.code == "moderation_blocked"
    assert info.value.response.headers["x-should-retry"] == "false"
    assert len(sent) == 1

    fake_factory.engine("fake-general").fail_with = ModerationError("flagged", side="output")
    sent.clear()
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="a calm lake", model="fake-general")
    assert info.value.code == "moderation_blocked"
    assert info.value.body["moderation_details"]["moderation_stage"] == "output"
    assert len(sent) == 1
    assert tp.as_user("alice@example.com").credits(statement=False)["available"] == 50


@BOTH_DBS
def test_idempotency_key_answers_the_same_images_charged_once(counted, tp):
    client, _ = counted
    key = {"Idempotency-Key": "openai-1"}
    first = client.images.with_raw_response.generate(prompt="a cat", model="fake-general",
                                                     extra_headers=key)
    again = client.images.with_raw_response.generate(prompt="a cat", model="fake-general",
                                                     extra_headers=key)
    assert first.headers["x-triptych-job-id"] == again.headers["x-triptych-job-id"]
    assert first.parse().data[0].b64_json == again.parse().data[0].b64_json
    assert tp.as_user("alice@example.com").credits(statement=False)["available"] == 45
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="a dog", model="fake-general", extra_headers=key)
    assert info.value.code == "idempotency_conflict"
    assert info.value.param == "Idempotency-Key"


@BOTH_DBS
def test_insufficient_credits_is_not_retried(counted):
    client, sent = counted
    with pytest.raises(openai.RateLimitError) as info:
        client.images.generate(prompt="x", model="fake-premium", n=4)
    error = info.value
    assert error.code == "insufficient_credits" and error.type == "insufficient_quota"
    assert error.body["needed"] == 60 and error.body["available"] == 50
    assert error.response.headers["x-should-retry"] == "false"
    assert len(sent) == 1


def test_invalid_requests(counted, live):
    client, sent = counted
    with pytest.raises(openai.NotFoundError) as info:
        client.images.generate(prompt="x", model="dall-e-9")
    assert info.value.code == "model_not_found" and info.value.param == "model"
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="x", size="5000x5000")
    assert info.value.param == "size" and info.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="x", n=11)
    assert info.value.param == "n"
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="x", stream=True)
    assert info.value.param == "stream"
    assert len(sent) == 4  # none retried
    bad = openai.OpenAI(api_key="tpk_wrong_key", base_url=f"{live.url}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.images.generate(prompt="x")
    assert info.value.code == "invalid_api_key"


def test_extra_openai_fields_are_accepted(counted):
    client, _ = counted
    result = client.images.generate(prompt="a star", quality="high", style="vivid",
                                    output_format="png", size="auto")
    assert len(result.data) == 1


def test_models_list_and_retrieve(counted, tp):
    client, _ = counted
    models = client.models.list()
    assert [m.id for m in models] == ["fake-draft", "fake-general", "fake-premium"]
    first = models.data[0]
    assert first.object == "model" and first.owned_by == "Test" and first.created >= 0
    assert first.model_extra["credits"] == 1 and first.model_extra["tier"] == "instant"
    one = client.models.retrieve("fake-premium")
    assert (one.id, one.model_extra["credits"]) == ("fake-premium", 15)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


@BOTH_DBS
def test_out_of_credits_says_how_to_get_more(counted, tp, settings):
    client, sent = counted
    with pytest.raises(openai.RateLimitError) as info:
        client.images.generate(prompt="a cat", model="fake-premium", n=4)  # 60 of 50
    body = info.value.body
    assert body["code"] == "insufficient_credits" and len(sent) == 1
    assert "grant yourself credits on the admin page" in body["message"]  # alice: the admin
    assert "triptych credits grant" not in body["message"]
    settings.billing_url = "https://pay.example.com/triptych"
    with pytest.raises(openai.RateLimitError) as info:
        client.images.generate(prompt="a cat", model="fake-premium", n=4)
    assert info.value.body["buy_url"] == "https://pay.example.com/triptych"
    assert "Buy credits at https://pay.example.com/triptych" in info.value.body["message"]


@pytest.fixture
def one_api_thread(settings):
    """The API's thread pool cut to one thread (set before the server starts)."""
    settings.api_threads = 1


def test_a_waiting_request_holds_no_thread(one_api_thread, counted, live, fake_factory, tp):
    """While the OpenAI-compatible route waits for its image, the API's only thread still
    serves other requests: the wait is not done on a thread."""
    client, _ = counted
    release = threading.Event()
    fake_factory.engine("fake-general").before_return = lambda _: release.wait(20)
    outcome: list = []
    waiting = threading.Thread(target=lambda: outcome.append(
        client.images.generate(prompt="a slow cat", model="fake-general")))
    waiting.start()
    try:
        alice = tp.as_user("alice@example.com")
        deadline = time.monotonic() + 10
        while not any(j["status"] == "running" for j in alice.history()):
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        headers = {"Authorization": f"Bearer {client.api_key}"}
        listed = httpx.get(f"{live.url}/v1/history", headers=headers, timeout=5)
        assert listed.status_code == 200  # a plain-def route, on the one thread
        assert waiting.is_alive()
    finally:
        release.set()
        waiting.join(30)
    assert len(outcome) == 1 and outcome[0].data[0].b64_json
