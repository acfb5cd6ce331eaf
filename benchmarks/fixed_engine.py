"""The fixed-image engine the benchmarks share: it returns one prepared 64×64 image at once,
so whatever a benchmark measures beyond it is Triptych's own cost."""

from __future__ import annotations

from PIL import Image

from triptych.catalog.card import ModelCard
from triptych.engines.base import Availability, EngineImage, EngineResult, GenerationRequest

FIXED = Image.new("RGB", (64, 64), (200, 40, 90))


class FixedImageEngine:
    def generate(self, request: GenerationRequest, progress=None) -> EngineResult:
        return EngineResult(images=[EngineImage(FIXED.copy()) for _ in range(request.n)])


class FixedFactory:
    def create(self, card, settings):
        return FixedImageEngine()

    def availability(self, card, settings):
        return Availability(True)


CARD = ModelCard(id="fixed", name="Fixed", provider="bench", family="diffusion", tier="instant",
                 credits=1, quality="draft", description="fixed image", max_width=64,
                 max_height=64, default_width=64, default_height=64, best_for=["instant"],
                 engine="bench:fixed")
