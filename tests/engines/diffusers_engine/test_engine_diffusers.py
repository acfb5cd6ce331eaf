"""The diffusers engine on tiny real pipelines (StableDiffusionXLPipeline, random weights),
on the CPU: images, seeds, previews, cancel, out-of-memory, missing folders, batches."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from tests.support.tiny_diffusers import add_preview_decoder, tiny_card

from triptych.engines import registry
from triptych.engines.base import EngineResult, GenerationRequest
from triptych.engines.diffusers_engine import DiffusersEngine, factory, loading
from triptych.engines.errors import (
    InvalidRequestError,
    OutOfMemoryError,
    ProviderUnavailableError,
)
from triptych.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", _env_file=None)


def engine(card, settings, residency) -> DiffusersEngine:
    return DiffusersEngine(card, settings, residency)


def local_card(model: str, dirs, **local):
    """The tiny model's card; PixArt-Σ with guidance (CFG) on and exact sizes."""
    if model == "pixart":
        local = {"guidance": 4.5, "resolution_binning": False, **local}
    return tiny_card(model, dirs[model], **local)


def req(seed: int = 1, n: int = 1, size: int = 32, **kw) -> GenerationRequest:
    return GenerationRequest(prompt=kw.pop("prompt", "a red circle"), width=size, height=size,
                             seed=seed, n=n, **kw)


def pixels(result: EngineResult, i: int = 0) -> np.ndarray:
    return np.asarray(result.images[i].image).astype(int)


class Cancelled(Exception):
    pass


def test_registry_builds_it_for_the_diffusers_scheme(tiny_dirs, settings):
    card = tiny_card("alpha", tiny_dirs["alpha"])
    assert registry.availability(card, settings).available
    built = registry.create_engine(card, settings)
    built = getattr(built, "engine", built)  # the batcher may wrap it (engines/batching.py)
    assert isinstance(built, DiffusersEngine)
    assert set(registry.options_for(card)) == {"guidance", "negative_prompt"}


def test_generates_n_images_with_their_seeds(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    result = e.generate(req(seed=7, n=2, size=64))
    assert [im.image.size for im in result.images] == [(64, 64), (64, 64)]
    assert [im.notes["seed"] for im in result.images] == [7, 8]
    assert result.steps == 2
    assert result.model_version.startswith("alpha@")
    assert result.notes["pipeline"] == "StableDiffusionXLPipeline"
    assert not np.array_equal(pixels(result, 0), pixels(result, 1))  # two seeds, two images


def test_a_seed_gives_the_same_image_alone_and_while_another_model_runs(
        tiny_dirs, settings, residency):
    alpha = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    beta = engine(tiny_card("beta", tiny_dirs["beta"]), settings, residency)
    alone = alpha.generate(req(seed=11))
    beta.generate(req(seed=1))  # loaded before the race, so both really run together
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            beta.generate(req(seed=99, n=2))

    other = threading.Thread(target=busy)
    other.start()
    try:
        together = [alpha.generate(req(seed=11)) for _ in range(3)]
    finally:
        stop.set()
        other.join()
    for result in together:
        assert np.array_equal(pixels(alone), pixels(result))
    assert not np.array_equal(pixels(alone), pixels(alpha.generate(req(seed=12))))


def test_progress_gives_fractions_and_previews(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"], preview_every=2), settings, residency)
    seen: list[tuple[float, Image.Image | None]] = []
    e.generate(req(steps=4, size=64), lambda f, p: seen.append((f, p)))
    assert [f for f, _ in seen] == [0.25, 0.5, 0.75, 1.0]
    previews = [p for _, p in seen]
    assert previews[0] is None and previews[2] is None  # every second step
    for p in (previews[1], previews[3]):
        assert isinstance(p, Image.Image) and p.mode == "RGB" and p.size == (64, 64)
        assert np.asarray(p).std() > 0  # a picture, not a flat fill


def test_a_preview_decoder_in_the_folder_draws_the_previews(tiny_dirs, tmp_path, settings,
                                                            residency, monkeypatch):
    folder = tmp_path / "with-taesd"
    shutil.copytree(tiny_dirs["alpha"], folder)
    add_preview_decoder(folder)
    from triptych.engines.diffusers_engine import previews

    used = []
    real = previews.decode
    monkeypatch.setattr(previews, "decode", lambda *a: used.append(1) or real(*a))
    seen = []
    engine(tiny_card("taesd", folder), settings, residency).generate(
        req(size=64), lambda f, p: seen.append(p))
    assert used and all(p is not None and p.size == (64, 64) for p in seen)
    assert residency.report()["models"][0]["bytes"] > 0  # the decoder counts too


@pytest.mark.parametrize("model", ["alpha", "pixart"])  # callback_on_step_end, callback
def test_a_raising_progress_callback_cancels_between_steps(tiny_dirs, settings, residency,
                                                           model):
    e = engine(local_card(model, tiny_dirs), settings, residency)
    calls = []

    def cancel(fraction, _preview):
        calls.append(fraction)
        raise Cancelled("job cancelled")

    with pytest.raises(Cancelled):
        e.generate(req(steps=4), cancel)
    assert calls == [0.25]  # stopped after the first step
    assert e.generate(req(steps=4)).images  # the model still works afterwards


class OutOfMemoryPipe:
    """Stands in for a pipeline whose device runs out of memory mid-run."""

    def __init__(self, real, exc: BaseException) -> None:
        self.components = real.components  # what residency measures
        self.exc = exc

    def __call__(self, prompt, **kwargs):
        raise self.exc


@pytest.mark.parametrize("exc", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"),
])
def test_out_of_memory_is_a_clear_error_and_frees_idle_models(
        tiny_dirs, settings, residency, monkeypatch, exc):
    beta = engine(tiny_card("beta", tiny_dirs["beta"]), settings, residency)
    beta.generate(req())  # resident and idle
    alpha = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    real_load = loading.load

    def load_then_fail(folder, local, device):
        loaded = real_load(folder, local, device)
        loaded.pipe = OutOfMemoryPipe(loaded.pipe, exc)
        return loaded

    monkeypatch.setattr(loading, "load", load_then_fail)
    with pytest.raises(OutOfMemoryError) as caught:
        alpha.generate(req())
    assert "ran out of memory" in caught.value.message
    assert "out of memory" in caught.value.detail
    assert not residency.is_resident("beta")  # unloaded to make room for a retry
    assert residency.is_resident("alpha")


def test_out_of_memory_while_loading(tiny_dirs, settings, residency, monkeypatch):
    def fail(*_args):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(loading, "load", fail)
    with pytest.raises(OutOfMemoryError, match="does not fit"):
        engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency).generate(req())
    assert not residency.is_resident("alpha")


def test_a_missing_folder_is_unavailable_with_its_path(tmp_path, settings, residency):
    card = tiny_card("gone", tmp_path / "nowhere")
    status = factory.availability(card, settings)
    assert not status.available and "nowhere" in status.reason
    with pytest.raises(ProviderUnavailableError, match="does not exist"):
        engine(card, settings, residency).generate(req())


def test_an_incomplete_folder_names_what_is_missing(tiny_dirs, tmp_path, settings, residency):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dirs["alpha"], broken)
    for f in (broken / "unet").glob("*.safetensors"):
        f.unlink()
    status = factory.availability(tiny_card("broken", broken), settings)
    assert not status.available and "unet" in status.reason and "weight" in status.reason
    shutil.rmtree(broken / "unet")
    with pytest.raises(ProviderUnavailableError, match="no folder for unet"):
        engine(tiny_card("broken", broken), settings, residency).generate(req())
    (broken / "model_index.json").unlink()
    assert "model_index.json" in factory.availability(tiny_card("b", broken), settings).reason


def test_a_relative_path_is_read_under_the_models_dir(tiny_dirs, tmp_path, residency):
    settings = Settings(home=tmp_path / "h", models_dir=tiny_dirs["alpha"].parent,
                        _env_file=None)
    card = tiny_card("alpha", "alpha")  # type: ignore[arg-type]
    assert factory.availability(card, settings).available
    assert engine(card, settings, residency).generate(req()).images


def test_a_hugging_face_cache_entry_resolves_to_its_snapshot(tiny_dirs, tmp_path, settings,
                                                             residency):
    entry = tmp_path / "hub" / "models--tiny--alpha"
    shutil.copytree(tiny_dirs["alpha"], entry / "snapshots" / "0123abc")
    (entry / "snapshots" / "old").mkdir()
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text("0123abc")
    card = tiny_card("cached", entry)
    assert factory.availability(card, settings).available
    assert engine(card, settings, residency).generate(req()).images


@pytest.mark.parametrize(("request_", "field"), [
    (req(size=48 + 4), "size"),  # not a multiple of 8
    (req(size=128), "size"),  # above the card's max
    (req(n=9), "n"),
    (req(steps=9), "steps"),
    (req(options={"guidance": 50.0}), "guidance"),
])
def test_requests_it_cannot_honour_are_invalid(tiny_dirs, settings, residency, request_,
                                               field):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    with pytest.raises(InvalidRequestError) as caught:
        e.generate(request_)
    assert caught.value.field == field
    assert e.batch_key(request_) is None


def test_allowed_sizes_from_the_catalog(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"], sizes=["32x32", "64x32"]), settings,
               residency)
    assert e.generate(GenerationRequest("x", 64, 32, seed=1)).images[0].image.size == (64, 32)
    with pytest.raises(InvalidRequestError, match="32x32, 64x32"):
        e.generate(req(size=64))


def test_a_pixart_sigma_pipeline_draws_through_its_older_callback(tiny_dirs, settings,
                                                                   residency):
    e = engine(local_card("pixart", tiny_dirs), settings, residency)
    seen: list[tuple[float, Image.Image | None]] = []
    result = e.generate(GenerationRequest("a cat", 64, 32, seed=1, steps=2),
                        lambda f, p: seen.append((f, p)))
    assert result.notes == {"pipeline": "PixArtSigmaPipeline", "device": "cpu",
                            "guidance": 4.5}
    assert result.images[0].image.size == (64, 32)
    assert [f for f, _ in seen] == [0.5, 1.0] and all(p is not None for _, p in seen)


def test_a_flux_pipeline_draws_and_previews_its_packed_latents(tiny_dirs, settings,
                                                                residency):
    e = engine(tiny_card("flux", tiny_dirs["flux"]), settings, residency)
    seen: list[tuple[float, Image.Image | None]] = []
    result = e.generate(GenerationRequest("a cat", 64, 32, seed=1, steps=2),
                        lambda f, p: seen.append((f, p)))
    assert result.notes["pipeline"] == "FluxPipeline"
    assert result.images[0].image.size == (64, 32)
    assert [f for f, _ in seen] == [0.5, 1.0]
    assert all(p is not None and p.size == (64, 32) for _, p in seen)  # the request's aspect


# ---------------------------------------------------------------------- batches


def test_batch_keys_group_compatible_requests(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    key = e.batch_key(req(seed=1))
    assert key == e.batch_key(req(seed=2, n=3, prompt="a blue square"))
    assert key != e.batch_key(req(size=64))
    assert key != e.batch_key(req(steps=3))
    assert key != e.batch_key(req(options={"guidance": 2.0}))
    assert key != e.batch_key(req(options={"negative_prompt": "blur"}))


@pytest.mark.parametrize("model", ["alpha", "flux", "pixart"])
def test_a_batch_gives_each_request_its_image_alone(tiny_dirs, settings, residency, model):
    e = engine(local_card(model, tiny_dirs), settings, residency)
    requests = [req(seed=1), req(seed=2, n=2, prompt="two green triangles"), req(seed=3)]
    alone = [e.generate(r) for r in requests]
    seen: list[list[float]] = [[], [], []]
    batched = e.generate_batch(requests, [lambda f, p, k=k: seen[k].append(f)
                                          for k in range(3)])
    for one, many in zip(alone, batched, strict=True):
        assert isinstance(many, EngineResult)
        assert len(many.images) == len(one.images)
        for i in range(len(one.images)):
            assert np.abs(pixels(one, i) - pixels(many, i)).max() <= 2
            assert many.images[i].notes["seed"] == one.images[i].notes["seed"]
    assert seen == [[0.5, 1.0]] * 3  # each request its own progress


def test_cancelling_one_request_of_a_batch_leaves_the_others(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    requests = [req(seed=1, steps=3), req(seed=2, steps=3), req(seed=3, steps=3)]
    alone = [e.generate(r) for r in requests]
    calls = [0, 0, 0]

    def track(k):
        def cb(_f, _p):
            calls[k] += 1
            if k == 1:
                raise Cancelled("second job cancelled")
        return cb

    out = e.generate_batch(requests, [track(0), track(1), None])
    assert isinstance(out[1], Cancelled)
    assert calls == [3, 1, 0]  # the cancelled one hears nothing after it stopped
    for k in (0, 2):
        assert np.abs(pixels(alone[k]) - pixels(out[k])).max() <= 2


def test_a_batch_of_cancelled_requests_stops(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)

    def cancel(_f, _p):
        raise Cancelled()

    out = e.generate_batch([req(seed=1, steps=4), req(seed=2, steps=4)], [cancel, cancel])
    assert all(isinstance(o, Cancelled) for o in out)


def test_an_invalid_request_in_a_batch_fails_alone(tiny_dirs, settings, residency):
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    out = e.generate_batch([req(seed=1), req(n=9)], [None, None])
    assert isinstance(out[0], EngineResult)
    assert isinstance(out[1], InvalidRequestError)


# ---------------------------------------------------------------------- residency


def test_a_small_budget_evicts_the_other_model_and_the_image_survives_a_reload(
        tiny_dirs, settings):
    from triptych.engines.residency import Residency

    probe = Residency()
    alpha_probe = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, probe)
    alpha_probe.generate(req())
    one_model = probe.report()["models"][0]["bytes"]
    probe.clear()

    manager = Residency({"cpu": int(one_model * 1.5)})  # room for one tiny model, not two
    alpha = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, manager)
    beta = engine(tiny_card("beta", tiny_dirs["beta"]), settings, manager)
    first = alpha.generate(req(seed=5))
    beta.generate(req(seed=5))
    assert manager.is_resident("beta") and not manager.is_resident("alpha")
    again = alpha.generate(req(seed=5))
    assert not manager.is_resident("beta")
    assert np.array_equal(pixels(first), pixels(again))
    report = manager.report()
    assert (report["loads"], report["evictions"]) == (3, 2)
    assert report["models"][0]["model"] == "alpha"
    assert report["models"][0]["bytes"] == one_model
    manager.clear()


def test_the_attention_backend_is_set_and_a_wrong_one_is_a_clear_error(tiny_dirs, settings,
                                                                       residency):
    native = engine(tiny_card("native", tiny_dirs["flux"], attention="native"), settings,
                    residency)
    assert native.generate(req()).images
    wrong = engine(tiny_card("wrong", tiny_dirs["flux"], attention="warp-drive"), settings,
                   residency)
    with pytest.raises(ProviderUnavailableError, match="warp-drive"):
        wrong.generate(req())
    assert not residency.is_resident("wrong")


def test_concurrent_requests_through_the_batcher_match_alone(tiny_dirs, settings, residency):
    """With the batcher (engines/batching.py, where it is installed): concurrent callers
    share one pipeline call and each gets its image alone."""
    batching = pytest.importorskip("triptych.engines.batching")
    e = engine(tiny_card("alpha", tiny_dirs["alpha"]), settings, residency)
    requests = [req(seed=s) for s in range(4)]
    alone = [e.generate(r) for r in requests]
    batcher = batching.BatchingEngine(e, window=0.5, max_batch=4, wait_when_idle=True)
    out: list[EngineResult | None] = [None] * 4
    threads = [threading.Thread(target=lambda k=k: out.__setitem__(
        k, batcher.generate(requests[k]))) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any(r is not None and r.notes.get("batched_with") for r in out)
    for one, many in zip(alone, out, strict=True):
        assert many is not None and np.abs(pixels(one) - pixels(many)).max() <= 2
