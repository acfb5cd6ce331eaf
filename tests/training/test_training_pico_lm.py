"""pico-lm trainer (tiny config): the MiniLM feature cache (ragged storage, reuse), a tiny run
with the real offline MiniLM, checkpoint + card, pipeline on unseen wording, determinism, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from tests.support.training import FakeSentenceModel, quiet

from triptych.diffusion.dit_pipeline import load_dit_pipeline
from triptych.nets import autoencoder as ae_mod
from triptych.nets.lm_connector import FrozenLM
from triptych.nets.pico_dit import PicoLM, load_transformer
from triptych.training.pico_lm import lm_feature_cache, train_pico_lm


@pytest.fixture(scope="module")
def ae_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("ae")
    return ae_mod.save(ae_mod.Autoencoder(ae_mod.AE_CONFIGS["tiny"]), root / "ae.safetensors")


def test_feature_cache_is_ragged_padded_and_reused(tmp_path) -> None:
    fake = FakeSentenceModel()
    lm = FrozenLM(fake)
    captions = ["a dog", "two cats on a red background", "a dog", "a sun above a house"]
    path = tmp_path / "minilm.pt"
    feats = lm_feature_cache(lm, captions, path=path, chunk=2, log=lambda *_: None)
    assert fake.calls == 2  # 3 distinct captions in chunks of 2
    idx = torch.tensor([1, 0, 2])
    tokens, mask = feats.batch(idx)
    want_tokens, want_mask = FrozenLM(FakeSentenceModel())([captions[i] for i in idx])
    assert torch.equal(mask, want_mask)
    assert torch.allclose(tokens, want_tokens.half().float())
    again = lm_feature_cache(FrozenLM(fake), captions, path=path, log=lambda *_: None)
    assert fake.calls == 2 and torch.equal(again.batch(idx)[0], tokens)  # read from disk


def test_tiny_run_with_the_real_language_model(tmp_path, ae_path) -> None:
    out = tmp_path / "w" / "pico-lm.safetensors"
    summary = train_pico_lm(tiny=True, seed=1, out=out, run_dir=tmp_path / "run",
                            ae_path=ae_path, **quiet)
    assert summary["steps"] == 4 and summary["lm"] == "all-MiniLM-L6-v2"
    assert (tmp_path / "run" / "minilm.pt").is_file()
    bundle = load_transformer(out)
    assert isinstance(bundle.model, PicoLM) and isinstance(bundle.tokenizer, FrozenLM)
    card = out.with_suffix(".md").read_text()
    assert "triptych train pico-lm" in card and "MiniLM" in card
    pipe = load_dit_pipeline(out, ae_path)
    seen: list[float] = []
    images = pipe(["a fluffy puppy sitting to the left of a kitty"], [0],
                  on_preview=lambda f, _img: seen.append(f), preview_every=1)
    assert images.shape == (1, 3, 64, 64) and seen == [0.5]  # 2 steps: one preview


def test_same_seed_same_weights(tmp_path, ae_path) -> None:
    paths = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / f"{name}.safetensors"
        train_pico_lm(tiny=True, seed=seed, out=out, run_dir=tmp_path / name, ae_path=ae_path,
                      lm=FrozenLM(FakeSentenceModel()), **quiet)
        paths.append(load_file(str(out)))
    a, b, c = paths
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_cli_tiny(tmp_path, ae_path, monkeypatch) -> None:
    monkeypatch.setenv("TRIPTYCH_TORCH_THREADS", "1")
    from triptych.cli.commands import train_family  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train

    out = tmp_path / "cli.safetensors"
    result = CliRunner().invoke(train, ["pico-lm", "--tiny", "--out", str(out), "--run-dir",
                                        str(tmp_path / "run"), "--autoencoder", str(ae_path),
                                        "--json"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.with_suffix(".md").is_file()


def _tiny_pico_diffusion(path: Path, size: str = "tiny") -> Path:
    from triptych.nets.pico import PicoModel, SamplingDefaults, save_pico
    from triptych.nets.text_encoder import Tokenizer
    from triptych.nets.unet import UNET_CONFIGS

    torch.manual_seed(3)
    model = PicoModel(UNET_CONFIGS[size])
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.05)
    return save_pico(path, model, model.cfg, Tokenizer.build(["a dog"]), SamplingDefaults(),
                     {"train": {"steps": 7}})


def test_unet_backbone_warm_starts_from_pico_diffusion(tmp_path) -> None:
    from triptych.nets.pico import load_pico
    from triptych.training.pico_lm import build_pico_lm, warm_start

    init = _tiny_pico_diffusion(tmp_path / "pd.safetensors")
    model = build_pico_lm("unet-tiny")
    assert warm_start(model, init, log=lambda *_: None) == 7
    want = load_pico(init).model.unet.state_dict()
    got = model.backbone.state_dict()
    assert all(torch.equal(got[k], want[k].float()) for k in want)
    with pytest.raises(ValueError, match="does not match"):  # a U-Net of another size
        warm_start(build_pico_lm("unet-tiny"),
                   _tiny_pico_diffusion(tmp_path / "small.safetensors", "small"))
    with pytest.raises(ValueError, match="does not match"):  # a DiT backbone
        warm_start(build_pico_lm("tiny"), init)


def test_unet_backbone_round_trips_and_samples(tmp_path, ae_path) -> None:
    init = _tiny_pico_diffusion(tmp_path / "pd.safetensors")
    out = tmp_path / "pico-lm.safetensors"
    summary = train_pico_lm(tiny=True, size="unet-tiny", init=init, out=out,
                            run_dir=tmp_path / "run", ae_path=ae_path, **quiet)
    assert summary["backbone"] == "unet" and summary["init_steps"] == 7
    bundle = load_transformer(out)
    assert bundle.meta["backbone"] == "unet"
    assert type(bundle.model.backbone).__name__ == "UNet"
    card = out.with_suffix(".md").read_text()
    assert "latent U-Net" in card and "--init" in card
    pipe = load_dit_pipeline(out, ae_path, runtime="onnx")  # its U-Net on ONNX Runtime
    a = pipe(["a puppy to the left of a kitty"], [4])
    b = pipe(["a puppy to the left of a kitty"], [4])
    assert a.shape == (1, 3, 64, 64) and torch.equal(a, b)


def test_a_pico_lm_continues_from_its_own_checkpoint(tmp_path, ae_path) -> None:
    from triptych.training.pico_lm import build_pico_lm, warm_start

    first = tmp_path / "first.safetensors"
    train_pico_lm(tiny=True, size="unet-tiny", init=_tiny_pico_diffusion(tmp_path / "pd.st"),
                  out=first, run_dir=tmp_path / "run1", ae_path=ae_path, **quiet)
    model = build_pico_lm("unet-tiny")
    assert warm_start(model, first, log=lambda *_: None) == 7 + 4  # its steps + its init's
    want = load_transformer(first).model.state_dict()
    assert all(torch.equal(model.state_dict()[k], want[k].float()) for k in want)  # connector too
    with pytest.raises(ValueError, match="another size"):
        warm_start(build_pico_lm("tiny"), first)
    second = tmp_path / "second.safetensors"
    summary = train_pico_lm(tiny=True, size="unet-tiny", init=first, out=second,
                            run_dir=tmp_path / "run2", ae_path=ae_path, **quiet)
    assert summary["init_kind"] == "pico-lm" and summary["init_steps"] == 11
    assert "every weight from" in second.with_suffix(".md").read_text()


def test_dit_backbone_is_still_available(tmp_path, ae_path) -> None:
    out = tmp_path / "dit-lm.safetensors"
    summary = train_pico_lm(tiny=True, size="tiny", out=out, run_dir=tmp_path / "run",
                            ae_path=ae_path, **quiet)
    assert summary["backbone"] == "dit"
    assert load_transformer(out).meta["backbone"] == "dit"
