"""Test-only engines for `triptych eval`: "perfect" renders the ground-truth scene of each
prompt (paraphrases mapped back to their canonical prompt), "blank" returns a grey square."""

from __future__ import annotations

import random

from PIL import Image

from triptych.catalog.card import ModelCard
from triptych.engines.base import Availability, EngineImage, EngineResult, GenerationRequest
from triptych.world.parse import parse_prompt
from triptych.world.render import render
from triptych.world.sampling import scene_from_spec

PARAPHRASES = {"a pooch beside a kitty, pooch on the left": "a dog to the left of a cat"}


class PerfectEngine:
    def generate(self, request: GenerationRequest, progress=None) -> EngineResult:
        prompt = PARAPHRASES.get(request.prompt, request.prompt)
        scene = scene_from_spec(parse_prompt(prompt), random.Random(request.seed))
        return EngineResult(images=[EngineImage(render(scene))])


SEEN_OPTIONS: list[dict] = []  # the options of every request the blank engine served


class BlankEngine:
    def generate(self, request: GenerationRequest, progress=None) -> EngineResult:
        SEEN_OPTIONS.append(dict(request.options))
        return EngineResult(images=[EngineImage(Image.new("RGB", (64, 64), (128, 128, 128)))])


class Factory:
    def create(self, card, settings):
        return PerfectEngine() if card.target == "perfect" else BlankEngine()

    def availability(self, card, settings) -> Availability:
        return Availability(True)


def eval_card(name: str) -> ModelCard:
    return ModelCard(id=f"test-{name}", name=name, provider="tests", family="diffusion",
                     tier="instant", credits=0, quality="draft", description="test engine",
                     max_width=64, max_height=64, default_width=64, default_height=64,
                     engine=f"test:{name}")
