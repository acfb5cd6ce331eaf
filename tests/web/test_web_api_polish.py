"""The API's edges: errors that name the problem (malformed JSON, a body not sent as JSON),
one prompt limit on every route, the out-of-credit message for end users, /v1/models in
OpenAI's shape and Swagger UI at /docs served from this server."""

from __future__ import annotations

import pytest

from tests.conftest import BOTH_DBS
from triptych.service.requests import MAX_PROMPT_CHARS


def test_models_are_an_openai_list(client, alice):
    listed = client.get("/v1/models", headers=alice).json()
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == ["fake-draft", "fake-general", "fake-premium"]
    assert {"object", "created", "owned_by", "credits", "tier"} <= listed["data"][0].keys()
    premium = client.get("/v1/models", params={"tier": "premium"}, headers=alice).json()
    assert [m["id"] for m in premium["data"]] == ["fake-premium"]
    one = client.get("/v1/models/fake-general", headers=alice).json()
    assert (one["id"], one["object"], one["credits"]) == ("fake-general", "model", 5)
    missing = client.get("/v1/models/nope", headers=alice)
    assert missing.status_code == 404 and "GET /v1/models" in missing.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/generations", "/v1/images/generations"])
def test_malformed_json_names_the_problem(client, alice, path):
    r = client.post(path, content=b'{"prompt": "a" "model": 1}',
                    headers={**alice, "Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    error = r.json()["error"]
    assert error["message"] == ("Request body is not valid JSON: Expecting ',' delimiter "
                                "at line 1 column 16.")
    assert error.get("field", error.get("param")) is None


def test_malformed_json_on_a_later_line(client, alice):
    r = client.post("/v1/quote", content=b'{\n  "model": "fake-draft",\n  "n": }',
                    headers={**alice, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["message"].endswith("at line 3 column 8.")


@pytest.mark.parametrize("path,status_field", [("/v1/generations", "field"),
                                               ("/v1/quote", "field"),
                                               ("/v1/images/generations", "param")])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_body_not_sent_as_json_is_415(client, alice, path, status_field, content_type):
    headers = {**alice, **({"Content-Type": content_type} if content_type else {})}
    r = client.post(path, content=b'{"prompt": "a cat"}', headers=headers)
    assert r.status_code == 415
    error = r.json()["error"]
    assert "Content-Type: application/json" in error["message"]
    assert f"got '{content_type or 'none'}'" in error["message"]
    assert error[status_field] == "Content-Type"


@pytest.mark.parametrize("path", ["/v1/generations", "/v1/images/generations",
                                  "/v1/recommend"])
def test_one_prompt_limit_everywhere(client, alice, path):
    at_limit = {"prompt": "a" * MAX_PROMPT_CHARS, "model": "fake-draft"}
    over = {"prompt": "a" * (MAX_PROMPT_CHARS + 1), "model": "fake-draft"}
    if path == "/v1/recommend":
        at_limit.pop("model"), over.pop("model")
    assert client.post(path, json=at_limit, headers=alice).status_code in (200, 202)
    r = client.post(path, json=over, headers=alice)
    assert r.status_code in (400, 422)
    assert str(MAX_PROMPT_CHARS) in r.json()["error"]["message"]


def test_openapi_documents_the_limit_and_415(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["OpenAIImagesRequest"]["properties"]["prompt"]["maxLength"] == MAX_PROMPT_CHARS
    assert schemas["GenerationCreate"]["properties"]["prompt"]["maxLength"] == MAX_PROMPT_CHARS
    assert "415" in document["paths"]["/v1/generations"]["post"]["responses"]


@BOTH_DBS
def test_out_of_credits_tells_end_users_how_to_get_more(client, alice, bob, tp, settings):
    too_much = {"prompt": "a cat", "model": "fake-premium", "n": 4}  # 60 of 50
    r = client.post("/v1/generations", json=too_much, headers=bob)
    assert r.status_code == 402
    error = r.json()["error"]
    assert (error["needed"], error["available"]) == (60, 50)
    assert error["message"] == (
        "This needs 60 credits but you have 50. Ask your administrator (alice@example.com) "
        "for more credits. Your free monthly credits renew on 1 April.")
    admin = client.post("/v1/generations", json=too_much, headers=alice).json()["error"]
    assert "grant yourself credits on the admin page" in admin["message"]
    settings.admin_contact = "the studio desk, room 4"
    r = client.post("/v1/generations", json=too_much, headers=bob)
    assert "Ask your administrator (the studio desk, room 4)" in r.json()["error"]["message"]
    settings.billing_url = "https://pay.example.com/buy"
    for who in (alice, bob):
        error = client.post("/v1/generations", json=too_much, headers=who).json()["error"]
        assert error["buy_url"] == "https://pay.example.com/buy"
        assert "Buy credits at https://pay.example.com/buy." in error["message"]
        assert "triptych credits grant" not in error["message"]
    assert tp.as_user("bob@example.com").credits(statement=False)["available"] == 50


def test_cli_keeps_the_operator_hint(tp):
    from triptych.errors import InsufficientCredits

    with pytest.raises(InsufficientCredits) as info:
        tp.generate("a cat", "fake-premium", n=4)
    assert "triptych credits grant" in info.value.message


def test_swagger_ui_is_served_locally(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "<script>" not in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/api-docs.js").status_code == 200
