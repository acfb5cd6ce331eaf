"""Reference "generators" that bound what eval can measure (not catalog models).

- ``ground-truth``: renders a scene that satisfies the prompt (``scene_from_spec``): the judge's
  own ceiling on eval (≈ 1.0 if the judge is right).
- ``ground-truth+ae``: the same renders after an autoencoder round trip: the ceiling for latent
  generators decoding through that autoencoder.
- ``ground-truth+bits``: the same renders after a bits-tokenizer round trip: the ceiling for
  pico-bits, whose GPT can at best predict the tokens of a right scene.

Use them like models: ``triptych eval ground-truth+ae``.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image

from triptych.catalog.card import ModelCard
from triptych.engines.base import EngineImage, EngineResult, GenerationRequest
from triptych.world.parse import parse_prompt
from triptych.world.render import render
from triptych.world.sampling import scene_from_spec

REFERENCE_MODELS = ("ground-truth", "ground-truth+ae", "ground-truth+bits")


def reference_card(model_id: str) -> ModelCard:
    return ModelCard(
        id=model_id, name=model_id, provider="Triptych (eval reference)", family="diffusion",
        tier="instant", credits=0, quality="reference", description=__doc__.splitlines()[0],
        max_width=64, max_height=64, default_width=64, default_height=64,
        engine=f"reference:{model_id}",
    )


class ReferenceEngine:
    """``codec``: ``None`` (renders as they are), ``"ae"`` or ``"bits"`` (a round trip through
    the packaged autoencoder or bits tokenizer)."""

    def __init__(self, codec: str | None) -> None:
        # the files the built-in engine would draw through (TRIPTYCH_BUILTIN_WEIGHTS too)
        from triptych.engines.builtin.engine import AUTOENCODER, BITS_TOKENIZER, checkpoint_path

        self.codec = None  # anything with encode(x) and decode(codes): both nets have them
        if codec == "ae":
            from triptych.nets.autoencoder import load_pretrained

            self.codec = load_pretrained(str(checkpoint_path(AUTOENCODER)))
        elif codec == "bits":
            from triptych.nets.bits_tokenizer import load_pretrained as load_tokenizer

            self.codec = load_tokenizer(str(checkpoint_path(BITS_TOKENIZER)))
        elif codec is not None:
            raise ValueError(f"unknown reference codec {codec!r}")

    def generate(self, request: GenerationRequest, progress=None) -> EngineResult:
        scene = scene_from_spec(parse_prompt(request.prompt), random.Random(request.seed))
        image = render(scene)
        if self.codec is not None:
            x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 127.5 - 1
            with torch.no_grad():
                y = self.codec.decode(self.codec.encode(x)).clamp(-1, 1)  # [1, 3, 64, 64]
            arr = ((y[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
            image = Image.fromarray(arr)
        return EngineResult(images=[EngineImage(image)])

