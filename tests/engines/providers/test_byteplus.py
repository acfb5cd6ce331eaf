"""BytePlus ModelArk Seedream: sizes into the pixel window, *SensitiveContentDetected codes."""

from __future__ import annotations

import pytest
from provider_fakes import FakeBytePlus, FakeServer, Resp

from triptych.engines.base import GenerationRequest
from triptych.engines.errors import (
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderOutOfCreditError,
    ProviderUnavailableError,
)

PATH = r"/api/v3/images/generations"


@pytest.fixture
def bp(main_server: FakeServer, alt_server: FakeServer) -> FakeBytePlus:
    return FakeBytePlus(main_server, alt_server)


def req(**kw) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a koi pond", "width": 2048, "height": 2048,
                                "seed": 9, "target": "seedream-5-0-260128", **kw})


def test_request_shape(bp: FakeBytePlus) -> None:
    result = bp.engine().generate(req())
    body = bp.main.calls_to("POST", PATH)[0].json()
    assert body == {"model": "seedream-5-0-260128", "prompt": "a koi pond",
                    "size": "2048x2048", "seed": 9, "watermark": False,
                    "response_format": "b64_json", "sequential_image_generation": "disabled"}
    assert result.provider_cost == "1 generated images"
    assert "size" not in result.notes


def test_small_sizes_are_raised_to_the_minimum_and_noted(bp: FakeBytePlus) -> None:
    result = bp.engine().generate(req(width=1024, height=512))
    w, h = map(int, bp.main.calls_to("POST", PATH)[0].json()["size"].split("x"))
    assert w * h >= 3_686_400 and abs(w / h - 2) < 0.01
    assert "requested 1024x512" in result.notes["size"]


def test_n_images_are_separate_calls_with_consecutive_seeds(bp: FakeBytePlus) -> None:
    result = bp.engine().generate(req(n=3))
    seeds = [c.json()["seed"] for c in bp.main.calls_to("POST", PATH)]
    assert seeds == [9, 10, 11] and len(result.images) == 3
    assert "3 separate calls" in result.notes["n"]


@pytest.mark.parametrize(("code", "side"), [
    ("InputTextSensitiveContentDetected", "input"),
    ("InputImageSensitiveContentDetected", "input"),
    ("SensitiveContentDetected.SevereViolation", "input"),
    ("OutputImageSensitiveContentDetected", "output"),
])
def test_sensitive_content_codes(bp: FakeBytePlus, code: str, side: str) -> None:
    bp.main.route("POST", PATH, bp.error(400, code=code))
    with pytest.raises(ModerationError) as info:
        bp.engine().generate(req())
    assert info.value.side == side and code in info.value.detail


def test_per_item_error_in_a_200(bp: FakeBytePlus) -> None:
    bp.main.route("POST", PATH, Resp(json={"model": "m", "data": [{"error": {
        "code": "OutputImageSensitiveContentDetected", "message": "flagged"}}]}))
    with pytest.raises(ModerationError) as info:
        bp.engine().generate(req())
    assert info.value.side == "output"


def test_per_item_other_error_is_fatal(bp: FakeBytePlus) -> None:
    bp.main.route("POST", PATH, Resp(json={"data": [{"error": {"code": "InternalError",
                                                               "message": "x"}}]}))
    with pytest.raises(FatalError):
        bp.engine().generate(req())


def test_invalid_parameter_names_the_field(bp: FakeBytePlus) -> None:
    bp.main.route("POST", PATH, Resp(400, json={"error": {
        "code": "InvalidParameter", "type": "BadRequest",
        "message": "The parameter `size` specified in the request is not valid. "
                   "Request ID: 42"}}))
    with pytest.raises(InvalidRequestError) as info:
        bp.engine().generate(req())
    assert info.value.field == "size"


def test_closed_endpoint_is_unavailable(bp: FakeBytePlus) -> None:
    bp.main.route("POST", PATH, bp.error(404, code="InvalidEndpoint.ClosedEndpoint"))
    with pytest.raises(ProviderUnavailableError):
        bp.engine().generate(req())


def test_overdue_account_is_out_of_credit(bp: FakeBytePlus) -> None:
    bp.main.route("POST", PATH, bp.error(403, code="AccountOverdueError"))
    with pytest.raises(ProviderOutOfCreditError):
        bp.engine().generate(req())
