"""Recraft: raster and SVG results, plain-text errors, credits as provider cost."""

from __future__ import annotations

import pytest
from provider_fakes import SVG, FakeRecraft, FakeServer, Resp, text

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderOutOfCreditError,
    ProviderUnavailableError,
)

PATH = r"/v1/images/generations"


@pytest.fixture
def rc(main_server: FakeServer, alt_server: FakeServer) -> FakeRecraft:
    return FakeRecraft(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a fox logo", "width": 1024, "height": 1024,
                                "seed": 2**33 + 5, "target": "recraftv4_pro", **kw})


def test_raster_request_and_cost(rc: FakeRecraft) -> None:
    result = rc.engine().generate(req(width=1920, height=1080))
    body = rc.main.calls_to("POST", PATH)[0].json()
    assert body["model"] == "recraftv4_pro" and body["size"] == "16:9"
    assert body["random_seed"] == 5 and body["response_format"] == "b64_json"
    assert result.provider_cost == "250 Recraft credits"
    assert result.images[0].notes["recraft_image_id"] == "11111111-2222"
    assert result.images[0].svg is None


def test_vector_result_is_svg_with_png_preview(rc: FakeRecraft) -> None:
    rc.image = SVG
    result = rc.engine().generate(req(target="recraftv4_pro_vector", width=256, height=256))
    body = rc.main.calls_to("POST", PATH)[0].json()
    assert body["response_format"] == "url"
    image = result.images[0]
    assert image.svg == SVG
    assert image.image.size == (256, 256)
    assert "authorization" not in rc.alt.calls_to("GET", r"/files/.*")[0].headers


def test_vector_result_that_is_not_svg_is_malformed(rc: FakeRecraft) -> None:
    rc.image = b"\x89PNG not really"
    with pytest.raises(FatalError):
        rc.engine().generate(req(target="recraftv4_pro_vector"))


def test_svg_with_script_is_refused(rc: FakeRecraft) -> None:
    rc.image = SVG.replace(b"</svg>", b"<script>alert(1)</script></svg>")
    with pytest.raises(FatalError) as info:
        rc.engine().generate(req(target="recraftv4_pro_vector"))
    assert "script" in info.value.detail


def test_plain_text_unauthorized(rc: FakeRecraft) -> None:
    rc.main.route("POST", PATH, text(401, "request unauthorized"))
    with pytest.raises(ProviderUnavailableError) as info:
        rc.engine().generate(req())
    assert "request unauthorized" in info.value.detail


def test_plain_text_404(rc: FakeRecraft) -> None:
    rc.main.route("POST", PATH, text(404, "404 page not found"))
    with pytest.raises(ProviderUnavailableError):
        rc.engine().generate(req())


def test_not_enough_credits(rc: FakeRecraft) -> None:
    rc.main.route("POST", PATH, Resp(400, json={"code": "not_enough_credits",
                                                "message": "Not enough credits"}))
    with pytest.raises(ProviderOutOfCreditError):
        rc.engine().generate(req())


def test_nsfw_message_is_input_moderation(rc: FakeRecraft) -> None:
    rc.main.route("POST", PATH, text(400, "prompt contains NSFW content"))
    with pytest.raises(ModerationError) as info:
        rc.engine().generate(req())
    assert info.value.side == "input"


def test_unsupported_size_names_the_field(rc: FakeRecraft) -> None:
    rc.main.route("POST", PATH, Resp(400, json={"message": "unsupported size for model"},
                                     headers={"content-type": "application/json"}))
    with pytest.raises(InvalidRequestError) as info:
        rc.engine().generate(req())
    assert info.value.field == "size"
