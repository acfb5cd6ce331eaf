"""The built-in engine with tiny random checkpoints: availability, errors, sizes, seeds,
previews. (Image quality is measured by ``triptych eval``, not here.)"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from triptych.catalog.loader import load_catalog
from triptych.engines import registry
from triptych.engines.base import GenerationRequest
from triptych.engines.builtin import engine as builtin
from triptych.engines.errors import InvalidRequestError, ProviderUnavailableError
from triptych.nets import autoencoder as ae_mod
from triptych.nets import fast_decoder as fd_mod
from triptych.nets.fast_decoder import FAST_DECODER_CONFIGS, FastDecoder
from triptych.nets.pico import PicoModel, SamplingDefaults, save_pico
from triptych.nets.text_encoder import Tokenizer
from triptych.nets.unet import UNET_CONFIGS
from triptych.settings import Settings


def _write_weights(directory: Path) -> None:
    torch.manual_seed(0)
    ae = ae_mod.Autoencoder(ae_mod.AE_CONFIGS["tiny"])
    ae_mod.save(ae, directory / "autoencoder.safetensors")
    fd = FastDecoder.for_autoencoder(ae, FAST_DECODER_CONFIGS["tiny"])
    fd_mod.save(fd, directory / "fast-decoder.safetensors")  # pico-turbo's decoder
    tok = Tokenizer.build(["a red circle", "two cats", "a dog left of a cat"])
    model = PicoModel(UNET_CONFIGS["tiny"])
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.05)
    save_pico(directory / "pico-diffusion.safetensors", model, model.cfg, tok,
              SamplingDefaults(steps=20, guidance=3.0))
    save_pico(directory / "pico-turbo.safetensors", model, model.cfg, tok,
              SamplingDefaults(steps=4, guidance=None))


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    _write_weights(tmp_path)
    monkeypatch.setenv(builtin.WEIGHTS_ENV, str(tmp_path))
    builtin.clear_cache()
    yield tmp_path
    builtin.clear_cache()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", torch_threads=1)


def card(model_id: str):
    return load_catalog().get(model_id)


def req(**kw) -> GenerationRequest:
    base = {"prompt": "a red circle", "width": 64, "height": 64, "seed": 7, "steps": 2}
    return GenerationRequest(**{**base, **kw})


def test_registry_finds_the_builtin_factory() -> None:
    assert registry.factory_for("builtin") is builtin.factory


def test_unavailable_without_checkpoint(tmp_path, monkeypatch, settings) -> None:
    monkeypatch.setenv(builtin.WEIGHTS_ENV, str(tmp_path))
    status = builtin.factory.availability(card("pico-turbo"), settings)
    assert not status.available
    assert "pico-turbo.safetensors not found" in status.reason
    assert "triptych train pico-turbo" in status.reason


def test_available_with_checkpoints(weights, settings) -> None:
    for model_id in ("pico-turbo", "pico-diffusion"):
        assert builtin.factory.availability(card(model_id), settings).available


def test_corrupt_checkpoint_is_provider_unavailable_naming_the_file(weights, settings) -> None:
    (weights / "pico-turbo.safetensors").write_bytes(b"garbage")
    engine = builtin.factory.create(card("pico-turbo"), settings)
    with pytest.raises(ProviderUnavailableError, match="pico-turbo.safetensors"):
        engine.generate(req())


def test_pico_turbo_needs_its_fast_decoder(weights, settings) -> None:
    (weights / "fast-decoder.safetensors").write_bytes(b"garbage")
    with pytest.raises(ProviderUnavailableError,
                       match=r"fast-decoder.safetensors.*triptych train fast-decoder"):
        builtin.factory.create(card("pico-turbo"), settings).generate(req())
    (weights / "fast-decoder.safetensors").unlink()
    status = builtin.factory.availability(card("pico-turbo"), settings)
    assert not status.available and "fast-decoder.safetensors not found" in status.reason
    # pico-diffusion decodes with the autoencoder alone
    assert builtin.factory.availability(card("pico-diffusion"), settings).available


def test_pico_turbo_decodes_with_the_fast_decoder(weights, settings) -> None:
    pipe = builtin.load_pipeline("pico-turbo")
    assert isinstance(pipe.decoder, FastDecoder) and pipe.decoder is not pipe.ae
    assert builtin.load_pipeline("pico-diffusion").decoder is builtin.load_pipeline(
        "pico-diffusion").ae


def test_generate_native_size(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-turbo"), settings)
    result = engine.generate(req(n=2))
    assert len(result.images) == 2
    assert result.images[0].image.size == (64, 64)
    assert result.steps == 2
    assert "upscaled_from" not in result.notes
    assert result.model_version.startswith("pico-turbo@")


def test_default_steps_come_from_the_card(weights, settings) -> None:
    result = builtin.factory.create(card("pico-turbo"), settings).generate(req(steps=None))
    assert result.steps == card("pico-turbo").default_steps


@pytest.mark.parametrize("size", [(256, 256), (512, 128)])
def test_upscale_is_labelled(weights, settings, size) -> None:
    engine = builtin.factory.create(card("pico-turbo"), settings)
    result = engine.generate(req(width=size[0], height=size[1]))
    assert result.images[0].image.size == size
    assert result.notes["upscaled_from"] == "64x64"


@pytest.mark.parametrize("size", [(32, 32), (1024, 1024), (64, 600)])
def test_impossible_sizes_are_invalid(weights, settings, size) -> None:
    engine = builtin.factory.create(card("pico-diffusion"), settings)
    with pytest.raises(InvalidRequestError) as info:
        engine.generate(req(width=size[0], height=size[1]))
    assert info.value.field == "size"


def test_too_many_steps_is_invalid(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-turbo"), settings)
    with pytest.raises(InvalidRequestError) as info:
        engine.generate(req(steps=999))
    assert info.value.field == "steps"


def test_same_seed_same_image_whatever_n(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-diffusion"), settings)
    four = engine.generate(req(n=4, seed=100))
    one = engine.generate(req(n=1, seed=102))
    assert one.images[0].image.tobytes() == four.images[2].image.tobytes()
    assert four.images[0].image.tobytes() != four.images[1].image.tobytes()


def test_progress_gets_previews(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-diffusion"), settings)
    calls: list[tuple[float, object]] = []
    engine.generate(req(steps=8, n=2), progress=lambda f, img: calls.append((f, img)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(img is not None and img.size == (64, 64) for _, img in calls)
    assert len(calls) > 2


def test_no_preview_is_decoded_when_the_callback_wants_none(weights, settings) -> None:
    """``wants_preview()`` False: the fractions still arrive (a cancel is still heard), but
    mid-run with no picture; only the finished image is passed. The image is the same."""
    engine = builtin.factory.create(card("pico-diffusion"), settings)
    wanted = {"now": False}
    calls: list[tuple[float, object]] = []

    def progress(fraction, image):
        calls.append((fraction, image))

    progress.wants_preview = lambda: wanted["now"]
    skipped = engine.generate(req(steps=8, seed=5), progress=progress)
    assert len(calls) > 2 and calls[-1][0] == 1.0 and calls[-1][1] is not None
    assert all(image is None for _, image in calls[:-1])
    calls.clear()
    wanted["now"] = True
    shown = engine.generate(req(steps=8, seed=5), progress=progress)
    assert all(image is not None for _, image in calls)
    assert skipped.images[0].image.tobytes() == shown.images[0].image.tobytes()


def test_unknown_words_do_not_crash(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-turbo"), settings)
    result = engine.generate(req(prompt="a zebra on a unicycle 🦓 ¿¡"))
    assert "zebra" in result.notes["unknown_words"]
    assert builtin.factory.create(card("pico-turbo"), settings).generate(req(prompt="")).images


def test_exported_graphs_are_cached_in_the_home(weights, settings, monkeypatch) -> None:
    engine = builtin.factory.create(card("pico-turbo"), settings)
    first = engine.generate(req()).images[0].image
    # the text encoder, the U-Net's graphs at batch 1 and the decoder
    assert len(list((settings.home / "cache" / "onnx").glob("*.onnx"))) >= 3
    # the next process (no pipelines in memory) builds its sessions from those files
    builtin.clear_cache()
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported again"))
    again = builtin.factory.create(card("pico-turbo"), settings).generate(req()).images[0].image
    assert again.tobytes() == first.tobytes()


def test_models_load_once_and_engine_is_thread_safe(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-turbo"), settings)
    other = builtin.factory.create(card("pico-turbo"), settings)
    engine.generate(req())
    pipe = builtin.load_pipeline("pico-turbo")
    other.generate(req())
    assert builtin.load_pipeline("pico-turbo") is pipe
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.generate(req(seed=3))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.images[0].image.tobytes() for r in results}) == 1


def test_guidance_option(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-diffusion"), settings)
    assert engine.generate(req(options={"guidance": 5})).notes["guidance"] == 5.0
    with pytest.raises(InvalidRequestError):
        engine.generate(req(options={"guidance": "lots"}))


def test_layout_check_option(weights, settings) -> None:
    engine = builtin.factory.create(card("pico-diffusion"), settings)
    result = engine.generate(req(prompt="a dog left of a cat", n=2))
    for image in result.images:  # one decision per image, stated in its notes
        note = image.notes["layout_check"]
        assert (note["subject"], note["relation"], note["reference"]) == (
            "a dog", "left of", "a cat")
        assert note["reason"] in ("kept", "flipped", "transposed", "unclear")
        assert isinstance(note["transposed"], bool)
    assert "layout_check" not in engine.generate(req(prompt="two cats")).images[0].notes
    off = engine.generate(req(prompt="a dog left of a cat", options={"layout_check": False}))
    assert "layout_check" not in off.images[0].notes
    plain = req(prompt="a red circle", seed=3)
    assert (engine.generate(plain).images[0].image.tobytes()
            == engine.generate(req(prompt="a red circle", seed=3,
                                   options={"layout_check": False})).images[0].image.tobytes())
    with pytest.raises(InvalidRequestError) as err:
        engine.generate(req(options={"layout_check": "yes"}))
    assert err.value.field == "layout_check"


def test_every_builtin_model_names_its_files(tmp_path, monkeypatch, settings) -> None:
    monkeypatch.setenv(builtin.WEIGHTS_ENV, str(tmp_path))
    lm = card("pico-lm")
    status = builtin.factory.availability(lm, settings)
    assert not status.available and "triptych train pico-lm" in status.reason
    (tmp_path / "pico-bits.safetensors").write_bytes(b"x")
    status = builtin.factory.availability(card("pico-bits"), settings)
    assert not status.available and "bits-tokenizer.safetensors not found" in status.reason


def test_pico_lm_runs_through_the_engine(weights, settings) -> None:
    from triptych.nets.lm_connector import ConnectorConfig
    from triptych.nets.pico_dit import PicoLM, save_transformer

    torch.manual_seed(1)
    model = PicoLM(UNET_CONFIGS["tiny"], ConnectorConfig(dim=16, hidden=32, blocks=1, heads=2))
    save_transformer(weights / "pico-lm.safetensors", model,
                     SamplingDefaults(steps=20, guidance=3.0))
    engine = builtin.factory.create(card("pico-lm"), settings)
    previews: list[float] = []
    result = engine.generate(req(prompt="a puppy next to an automobile", n=2,
                                 options={"guidance": 4}),
                             progress=lambda f, _img: previews.append(f))
    assert len(result.images) == 2 and result.images[0].image.size == (64, 64)
    assert result.notes["guidance"] == 4.0 and "unknown_words" not in result.notes
    assert result.model_version.startswith("pico-lm@") and previews[-1] == 1.0


@pytest.mark.parametrize("model_id", [c.id for c in load_catalog() if c.builtin])
def test_every_catalog_builtin_model_runs_on_its_shipped_weights(model_id, settings,
                                                                  monkeypatch) -> None:
    """What a fresh install serves: the packaged checkpoints, not the tiny test ones."""
    monkeypatch.delenv(builtin.WEIGHTS_ENV, raising=False)
    builtin.clear_cache()
    model = card(model_id)
    assert builtin.factory.availability(model, settings).available
    previews: list[float] = []
    result = builtin.factory.create(model, settings).generate(
        req(prompt="a red circle on a blue background", steps=None, n=1),
        progress=lambda f, _img: previews.append(f))
    image = result.images[0].image
    assert image.size == (64, 64) and previews and previews[-1] == 1.0
    assert image.getcolors(64 * 64) and len(image.getcolors(64 * 64)) > 1  # not a flat fill
    assert result.model_version.startswith(f"{model_id}@")
    builtin.clear_cache()
