"""Eval's reference generators: renders of each prompt, as they are or after a round trip
through the packaged autoencoder or bits tokenizer (the ceilings of the models drawing
through them)."""

from __future__ import annotations

import numpy as np
import pytest

from triptych.engines.base import GenerationRequest
from triptych.evaluation.reference import REFERENCE_MODELS, ReferenceEngine, reference_card

PROMPT = "a red circle to the left of a blue square on a white background"


def _image(codec: str | None) -> np.ndarray:
    request = GenerationRequest(prompt=PROMPT, width=64, height=64, seed=3)
    return np.asarray(ReferenceEngine(codec).generate(request).images[0].image, dtype=float)


@pytest.mark.parametrize("codec", ["ae", "bits"])
def test_a_round_trip_stays_close_to_the_render_but_is_not_it(codec) -> None:
    plain, coded = _image(None), _image(codec)
    assert coded.shape == plain.shape == (64, 64, 3)
    mse = ((coded - plain) ** 2).mean()
    assert 0 < mse and 10 * np.log10(255**2 / mse) > 15  # PSNR in dB


def test_every_reference_model_has_a_card_and_an_engine() -> None:
    assert "ground-truth+bits" in REFERENCE_MODELS
    for model in REFERENCE_MODELS:
        card = reference_card(model)
        assert card.credits == 0 and card.target == model
    with pytest.raises(ValueError, match="unknown reference codec"):
        ReferenceEngine("jpeg")
