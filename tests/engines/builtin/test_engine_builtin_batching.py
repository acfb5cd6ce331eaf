"""Built-in models in batches (BuiltinEngine.batch_key / generate_batch) on their shipped
weights: a seed gives the same image alone or in a batch, each request keeps its own
progress and cancel."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from triptych.catalog.loader import load_catalog
from triptych.engines.base import EngineResult, GenerationRequest
from triptych.engines.builtin import engine as builtin
from triptych.engines.errors import InvalidRequestError
from triptych.settings import Settings

BATCHABLE = [m for m, spec in builtin.MODELS.items() if spec.batches]
PROMPTS = ["a red circle on a blue background", "two cats", "a dog left of a cat",
           "a star above a moon", "three fish on green", "a yellow ball", "a tree", "hi"]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.delenv(builtin.WEIGHTS_ENV, raising=False)
    builtin.clear_cache()
    yield Settings(home=tmp_path / "home", torch_threads=1, _env_file=None)
    builtin.clear_cache()


def engine_for(model_id: str, settings: Settings) -> builtin.BuiltinEngine:
    return builtin.factory.create(load_catalog().get(model_id), settings)


def requests() -> list[GenerationRequest]:
    """Eight requests, two of them for several images, one at another size."""
    return [GenerationRequest(p, 128 if i == 5 else 64, 64, 100 + 10 * i,
                              n=2 if i in (1, 4) else 1) for i, p in enumerate(PROMPTS)]


def pixels(result: EngineResult) -> list[np.ndarray]:
    return [np.asarray(image.image, dtype=np.int16) for image in result.images]


def test_pico_dit_runs_alone() -> None:
    assert "pico-dit" not in BATCHABLE  # no faster batched on a CPU; its pipeline still can


@pytest.mark.parametrize("model_id", list(builtin.MODELS))
def test_a_seed_gives_the_same_image_alone_or_batched(model_id, settings) -> None:
    engine = engine_for(model_id, settings)
    reqs = requests()
    alone = [engine.generate(r) for r in reqs]
    groups: dict = defaultdict(list)  # pico-lm: one batch per context bucket
    for i, r in enumerate(reqs):
        groups[engine.batch_key(r)].append(i)
    assert max(len(g) for g in groups.values()) >= 2
    batched: dict[int, EngineResult] = {}
    for rows in groups.values():
        outcomes = engine.generate_batch([reqs[i] for i in rows], [None] * len(rows))
        batched.update(zip(rows, outcomes, strict=True))
    worst = 0
    for i, r in enumerate(reqs):
        got = batched[i]
        assert isinstance(got, EngineResult), got
        assert len(got.images) == r.n and got.images[0].image.size == (r.width, r.height)
        assert got.notes == alone[i].notes and got.steps == alone[i].steps
        assert [im.notes for im in got.images] == [im.notes for im in alone[i].images]
        for a, b in zip(pixels(alone[i]), pixels(got), strict=True):
            worst = max(worst, int(np.abs(a - b).max()))
    assert worst <= 2  # levels of 255 (0 where the kernels are batch-invariant)


def test_keys_separate_what_changes_the_computation(settings) -> None:
    engine = engine_for("pico-diffusion", settings)
    base = GenerationRequest("two cats", 64, 64, 1)
    key = engine.batch_key(base)
    assert engine.batch_key(GenerationRequest("a tree", 256, 256, 9, n=3)) == key
    assert engine.batch_key(GenerationRequest("two cats", 64, 64, 1, steps=5)) != key
    assert engine.batch_key(GenerationRequest("two cats", 64, 64, 1,
                                              options={"guidance": 5})) != key
    assert engine.batch_key(GenerationRequest("two cats", 64, 64, 1,
                                              options={"layout_check": False})) != key
    with pytest.raises(InvalidRequestError):
        engine.batch_key(GenerationRequest("two cats", 64, 64, 1, steps=999))


@pytest.mark.parametrize("model_id", ["pico-turbo", "pico-bits"])
def test_each_request_hears_its_own_progress_and_cancel_drops_only_it(model_id,
                                                                      settings) -> None:
    engine = engine_for(model_id, settings)
    reqs = [GenerationRequest(p, 64, 64, 7 + i, steps=8) for i, p in enumerate(PROMPTS[:4])]
    heard: dict[int, list[float]] = defaultdict(list)

    class Cancelled(Exception):
        pass

    def listener(i):
        def cb(fraction, preview):
            assert preview is not None and preview.size == (64, 64)
            heard[i].append(fraction)
            if i == 2 and fraction >= 0.25:
                raise Cancelled()
        return cb

    outcomes = engine.generate_batch(reqs, [listener(i) for i in range(4)])
    assert isinstance(outcomes[2], Cancelled)
    assert heard[2] == [f for f in heard[0] if f <= heard[2][-1]]  # stopped at the cancel
    for i in (0, 1, 3):
        assert isinstance(outcomes[i], EngineResult)
        assert heard[i] == sorted(heard[i]) and heard[i][-1] == 1.0 and len(heard[i]) > 2
        alone = engine.generate(reqs[i])  # the others sampled on as if nothing happened
        assert np.abs(pixels(alone)[0] - pixels(outcomes[i])[0]).max() <= 2


def test_pico_lm_batches_the_prompts_of_one_context_bucket(settings) -> None:
    engine = engine_for("pico-lm", settings)
    short = engine.batch_key(GenerationRequest("two cats", 64, 64, 1))  # 5 slots
    assert engine.batch_key(GenerationRequest("three fish on green", 64, 64, 2)) == short  # 7
    assert engine.batch_key(GenerationRequest("a red circle on a blue background",
                                              64, 64, 3)) != short  # 10: the next bucket
