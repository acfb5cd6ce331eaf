"""One set of ``Idempotency-Key`` rules on every route that takes it (``web/idempotency.py``,
``service/idempotency.py``): at most 200 printable ASCII characters, the same
``invalid_request`` on the ``Idempotency-Key`` field everywhere, nothing held for a refused
key; on SQLite and PostgreSQL (whose column refused a long key with a 500)."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import BOTH_DBS
from tests.web.conftest import make_key
from triptych.errors import InvalidRequest

pytestmark = BOTH_DBS  # keys are stored with jobs: both databases

LONGEST = "k" * 200
TOO_LONG = "k" * 300
NOT_ASCII = "clé-é".encode()  # UTF-8 bytes on the wire

ROUTES = {
    "/v1/generations": ({"prompt": "a red circle", "model": "fake-general", "size": "64x64"},
                        202, 422),
    "/v1/compare": ({"prompt": "a red circle", "models": ["fake-general", "fake-premium"],
                     "size": "64x64"}, 202, 422),
    "/v1/images/generations": ({"prompt": "a red circle", "model": "fake-general",
                                "size": "64x64"}, 200, 400),
}


def held(tp) -> tuple[int, int]:
    credits = tp.as_user("alice@example.com").credits(statement=False)
    return credits["balance"], credits["held"]


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize("key", [TOO_LONG, NOT_ASCII, "tab\there"], ids=["300", "utf8", "ctl"])
def test_a_bad_key_is_refused_the_same_way_everywhere(client, tp, alice, path: str,
                                                      key: str | bytes) -> None:
    body, _, refused = ROUTES[path]
    before = held(tp)
    reply = client.post(path, json=body, headers={**alice, "Idempotency-Key": key})
    assert reply.status_code == refused, reply.text
    error = reply.json()["error"]
    field = error["param"] if path == "/v1/images/generations" else error["field"]
    assert field == "Idempotency-Key" and error["code"] == "invalid_request"
    assert "Idempotency-Key" in error["message"]
    assert held(tp) == before  # nothing charged, nothing held


@pytest.mark.parametrize("path", list(ROUTES))
def test_the_longest_key_works_and_repeats(client, tp, alice, path: str) -> None:
    body, ok, _ = ROUTES[path]
    headers = {**alice, "Idempotency-Key": LONGEST}
    first = client.post(path, json=body, headers=headers)
    assert first.status_code == ok, first.text
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == ok
    jobs = tp.as_user("alice@example.com").history()
    assert len(jobs) == (2 if path == "/v1/compare" else 1)  # the retry made nothing new


def test_the_python_client_and_cli_follow_the_same_rules(tp) -> None:
    with pytest.raises(InvalidRequest) as info:
        tp.submit(prompt="a red circle", model="fake-general", idempotency_key=TOO_LONG)
    assert info.value.field == "Idempotency-Key"


def test_the_official_openai_client_gets_a_clear_400(live, tp) -> None:
    key = make_key(tp, "alice@example.com")["Authorization"].removeprefix("Bearer ")
    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as http:
        client = openai.OpenAI(api_key=key, base_url=f"{live.url}/v1", http_client=http,
                               max_retries=2)
        with pytest.raises(openai.BadRequestError) as info:
            client.images.generate(prompt="a red circle", model="fake-general", size="64x64",
                                   extra_headers={"Idempotency-Key": TOO_LONG})
        assert info.value.status_code == 400 and len(sent) == 1  # not retried
        assert info.value.body["param"] == "Idempotency-Key"
        first = client.images.with_raw_response.generate(
            prompt="a red circle", model="fake-general", size="64x64",
            extra_headers={"Idempotency-Key": LONGEST})
        again = client.images.with_raw_response.generate(
            prompt="a red circle", model="fake-general", size="64x64",
            extra_headers={"Idempotency-Key": LONGEST})
        assert first.headers["x-triptych-job-id"] == again.headers["x-triptych-job-id"]
