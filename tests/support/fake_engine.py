"""A deterministic engine for tests: solid-colour images derived from (prompt, seed), and
scripted failures. It lives only in tests; production code ships no fake engine."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from triptych.catalog.card import ModelCard
from triptych.engines.base import Availability, EngineImage, EngineResult, GenerationRequest
from triptych.engines.errors import EngineError
from triptych.engines.options import OptionSpec


def colour_for(prompt: str, seed: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    return digest[0], digest[1], digest[2]


@dataclass
class FakeEngine:
    """Makes ``n`` images of the requested size; ``fail_with`` raises instead."""

    fail_with: EngineError | None = None
    calls: list[GenerationRequest] = field(default_factory=list)
    before_return: Callable[[GenerationRequest], None] | None = None
    deliver: int | None = None  # return only this many images (a partly blocked batch)

    def generate(self, request: GenerationRequest, progress=None) -> EngineResult:
        self.calls.append(request)
        if progress is not None:
            progress(0.5, Image.new("RGB", (8, 8), "gray"))
        if self.before_return is not None:
            self.before_return(request)
        if self.fail_with is not None:
            raise self.fail_with
        images = [
            EngineImage(Image.new("RGB", (request.width, request.height),
                                  colour_for(request.prompt, request.seed + i)))
            for i in range(request.n if self.deliver is None else self.deliver)
        ]
        return EngineResult(images=images, model_version="fake-1", steps=request.steps or 1)


class FakeFactory:
    """Registered under the ``test`` scheme; one FakeEngine per target, shared with tests."""

    def __init__(self) -> None:
        self.engines: dict[str, FakeEngine] = {}
        self.unavailable: set[str] = set()
        self.options_by_target: dict[str, dict[str, OptionSpec]] = {}  # none unless set
        self._lock = threading.Lock()

    def engine(self, target: str) -> FakeEngine:
        with self._lock:
            return self.engines.setdefault(target, FakeEngine())

    def options(self, card: ModelCard) -> dict[str, OptionSpec]:
        return self.options_by_target.get(card.target, {})

    def create(self, card: ModelCard, settings) -> FakeEngine:
        return self.engine(card.target)

    def availability(self, card: ModelCard, settings) -> Availability:
        if card.target in self.unavailable:
            return Availability(False, "switched off by the test")
        return Availability(True)


def fake_card(id: str, credits: int, tier: str = "fast", **extra) -> ModelCard:
    base = dict(
        id=id, name=id.replace("-", " ").title(), provider="Test", family="diffusion", tier=tier,
        credits=credits, quality="good", description=f"test model {id}", max_width=1024,
        max_height=1024, min_width=64, min_height=64, default_width=64, default_height=64,
        max_n=4, default_steps=4, max_steps=50, engine=f"test:{id}",
    )
    base.update(extra)
    return ModelCard(**base)


FAKE_CARDS = [
    fake_card("fake-draft", 1, "instant", best_for=["instant"], quality="draft"),
    fake_card("fake-general", 5, "fast", best_for=["general"], quality="high"),
    fake_card("fake-premium", 15, "premium", best_for=["final"], quality="highest",
              capabilities=["unrestricted"]),
]
