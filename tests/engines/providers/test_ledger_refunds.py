"""Provider failures through the whole service: ``Triptych.generate`` against the fake servers.

Every failing outcome (moderation, 5xx storm, timeout, malformed result) must leave the
balance where it started with nothing held; a success must capture exactly the catalog price.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from provider_fakes import (
    FAST,
    KEY,
    TIGHT,
    Fake,
    FakeBfl,
    FakeFal,
    FakeGemini,
    FakeOpenAI,
    FakeServer,
    Resp,
)

from triptych import Triptych
from triptych.catalog.loader import load_catalog
from triptych.engines import registry
from triptych.engines.providers.adapter import HostedFactory
from triptych.errors import JobFailed, ModerationBlocked
from triptych.settings import Settings

# catalog model id -> (fake, size the model accepts)
MODELS: dict[str, tuple[type[Fake], str]] = {
    "flux-pro": (FakeBfl, "1024x1024"),
    "bitdance": (FakeFal, "1024x1024"),
    "nano-banana-2": (FakeGemini, "1024x1024"),
    "gpt-image-1": (FakeOpenAI, "1024x1024"),
}


def moderate(fake: Fake) -> None:
    if isinstance(fake, FakeBfl):
        fake.final = {"status": "Content Moderated", "result": None}
    elif isinstance(fake, FakeFal):
        fake.output["has_nsfw_concepts"] = [True]
    elif isinstance(fake, FakeGemini):
        fake.main.route(*fake.submit, Resp(json={"promptFeedback": {"blockReason": "SAFETY"}}))
    else:
        fake.main.route(*fake.submit, fake.error(400, code="moderation_blocked"))


def storm(fake: Fake) -> None:
    fake.main.route(*fake.submit, Resp(503, json={"error": "down"}, headers=fake.storm_headers))


def timeout(fake: Fake) -> None:
    fake.main.route(*fake.submit, Resp(delay=TIGHT.read_timeout + 2.0))


def malformed(fake: Fake) -> None:
    fake.image = b"definitely not an image"


def bad_key(fake: Fake) -> None:
    if isinstance(fake, FakeGemini):  # Gemini's documented answer: 400, not 401
        fake.main.route(*fake.submit, Resp(400, json={"error": {
            "code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                         "reason": "API_KEY_INVALID"}]}}))
    else:
        fake.main.route(*fake.submit, Resp(401, json={"error": f"invalid key {KEY}"}))


def out_of_credit(fake: Fake) -> None:
    if isinstance(fake, FakeOpenAI):
        fake.main.route(*fake.submit, fake.error(429, code="insufficient_quota"))
    else:
        fake.main.route(*fake.submit, fake.error(402))


FAILURES: dict[str, Callable[[Fake], None]] = {
    "moderation": moderate, "5xx-storm": storm, "timeout": timeout, "malformed": malformed,
    "bad-key": bad_key, "out-of-credit": out_of_credit,
}
REASONS = {"5xx-storm": "engine_retryable", "timeout": "engine_retryable",
           "malformed": "engine_failed", "bad-key": "provider_unavailable",
           "out-of-credit": "provider_out_of_credit"}


@pytest.fixture(params=list(MODELS), ids=str)
def setup(request: pytest.FixtureRequest, main_server: FakeServer, alt_server: FakeServer,
          tmp_path) -> Iterator[tuple[Triptych, Fake, str, str]]:
    model = request.param
    fake_cls, size = MODELS[model]
    fake = fake_cls(main_server, alt_server)
    card = load_catalog().get(model)
    scheme = card.scheme
    module = __import__(f"triptych.engines.providers.{scheme}", fromlist=["factory"])
    # Same adapter, test-sized timeouts and backoff; 127.0.0.2 plays the provider's 2nd host.
    # Timeout cases need a read timeout short enough to pass; the rest a forgiving one.
    config = TIGHT if request.node.callspec.params.get("outcome") == "timeout" else FAST
    registry.register(scheme, HostedFactory(module.factory.engine_cls, config=config,
                                            trusted_hosts=("127.0.0.2",)))
    settings = Settings(home=tmp_path, _env_file=None, upstream_allow=alt_server.allow,
                        **{f"{scheme}_api_key": KEY, f"{scheme}_base_url": main_server.url})
    try:
        yield Triptych(settings=settings), fake, model, size
    finally:
        registry.unregister(scheme)


def balance(tp: Triptych) -> tuple[int, int]:
    credits = tp.credits(statement=False)
    return credits["balance"], credits["held"]


@pytest.mark.parametrize("outcome", list(FAILURES))
def test_failed_provider_outcome_refunds_the_hold(setup, outcome: str) -> None:
    tp, fake, model, size = setup
    start = balance(tp)
    FAILURES[outcome](fake)
    expected = ModerationBlocked if outcome == "moderation" else JobFailed
    with pytest.raises(expected) as info:
        tp.generate("a quiet harbour at dawn", model=model, seed=1, size=size, n=1)
    assert KEY not in str(info.value)
    if outcome in REASONS:
        assert info.value.fields["reason"] == REASONS[outcome]
    if outcome in ("bad-key", "out-of-credit"):
        assert "provider unavailable" in info.value.message.lower()
    if outcome == "bad-key":  # the job says which key the operator should check
        assert "API_KEY" in info.value.message
    assert balance(tp) == start  # voided, nothing held


def test_success_captures_exactly_the_catalog_price(setup) -> None:
    tp, fake, model, size = setup
    start_balance, _ = balance(tp)
    out = tp.generate("a quiet harbour at dawn", model=model, seed=1, size=size, n=1)
    assert len(out.paths) == 1 and out.paths[0].exists()
    price = load_catalog().get(model).credits
    assert out.cost == price
    assert balance(tp) == (start_balance - price, 0)
