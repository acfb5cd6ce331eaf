"""``triptych models add-local``: the family read from model_index.json, the entry it
writes (it must load as a card) and the errors it gives."""

from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner

from triptych.catalog.card import ModelCard
from triptych.catalog.loader import parse_catalog
from triptych.cli.main import cli
from triptych.engines.diffusers_engine.catalog_entry import catalog_entry
from triptych.engines.diffusers_engine.families import family_of
from triptych.engines.diffusers_engine.folder import FolderProblem


def fake_folder(root, class_name: str, name: str):
    """A folder shaped like a real download of ``class_name`` (weights are placeholders)."""
    folder = root / name
    index = {"_class_name": class_name, "_diffusers_version": "0.36.0",
             "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "transformer": ["diffusers", "SomeTransformer"], "vae": ["diffusers", "AutoencoderKL"],
             "text_encoder": ["transformers", "SomeEncoder"],
             "tokenizer": ["transformers", "SomeTokenizer"], "feature_extractor": [None, None]}
    for part in ("scheduler", "tokenizer"):
        (folder / part).mkdir(parents=True)
        (folder / part / "config.json").write_text("{}")
    for part in ("transformer", "vae", "text_encoder"):
        (folder / part).mkdir(parents=True)
        (folder / part / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 1024)
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


@pytest.mark.parametrize(("class_name", "name", "label", "steps", "guidance", "side"), [
    ("Flux2KleinPipeline", "FLUX.2-klein-4B", "FLUX.2 [klein]", 4, 1.0, 1024),
    ("FluxPipeline", "FLUX.1-schnell", "FLUX.1", 4, 0.0, 1024),
    ("FluxPipeline", "FLUX.1-dev", "FLUX.1 [dev]", 28, 3.5, 1024),
    ("StableDiffusion3Pipeline", "stable-diffusion-3.5-large", "Stable Diffusion 3.5", 28, 3.5,
     1024),
    ("StableDiffusion3Pipeline", "stable-diffusion-3.5-large-turbo",
     "Stable Diffusion 3.5 Large Turbo", 4, 0.0, 1024),
    ("StableDiffusionXLPipeline", "sdxl-turbo", "SDXL-Turbo", 1, 0.0, 512),
    ("SanaPipeline", "Sana_1600M_1024px_diffusers", "SANA", 20, 4.5, 1024),
    ("SanaSprintPipeline", "Sana_Sprint_1.6B_1024px_diffusers", "SANA-Sprint", 2, 4.5, 1024),
    ("PixArtSigmaPipeline", "PixArt-Sigma-XL-2-1024-MS", "PixArt-Σ", 20, 4.5, 1024),
])
def test_each_family_gets_its_usual_settings(tmp_path, class_name, name, label, steps,
                                             guidance, side):
    fam = family_of(class_name, name)
    assert (fam.label, fam.steps, fam.guidance, fam.size) == (label, steps, guidance, side)
    text = catalog_entry(fake_folder(tmp_path, class_name, name), "m", 3)
    card = ModelCard(**tomllib.loads(text)["model"][0])
    assert card.engine == f"diffusers:{tmp_path / name}"
    assert (card.default_steps, card.default_width, card.credits) == (steps, side, 3)
    assert card.local is not None and card.local.guidance == guidance
    assert text.startswith(f"# {label} ({class_name})")


def test_an_unknown_class_gets_generic_settings(tmp_path):
    text = catalog_entry(fake_folder(tmp_path, "SomeNewPipeline", "new"), "new", 1,
                         tier="premium", name="New model", device="cuda:1", dtype="float16",
                         offload="model")
    card = parse_catalog(text).get("new")
    assert (card.tier, card.name) == ("premium", "New model")
    assert (card.local.device, card.local.dtype, card.local.offload) == (
        "cuda:1", "float16", "model")


def test_an_incomplete_folder_is_refused(tmp_path):
    folder = fake_folder(tmp_path, "FluxPipeline", "partial")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(FolderProblem, match="transformer holds no weight files"):
        catalog_entry(folder, "m", 1)


def test_cli_prints_or_appends_the_entry(tiny_dirs, tmp_path):
    runner = CliRunner()
    printed = runner.invoke(cli, ["models", "add-local", str(tiny_dirs["alpha"]), "--id",
                                  "tiny", "--credits", "2"])
    assert printed.exit_code == 0, printed.output
    assert parse_catalog(printed.output).get("tiny").local.guidance == 5.0

    target = tmp_path / "operator.toml"
    for model_id in ("one", "two"):
        result = runner.invoke(cli, ["models", "add-local", str(tiny_dirs["alpha"]), "--id",
                                     model_id, "--credits", "1", "--write", str(target)])
        assert result.exit_code == 0, result.output
    assert [c.id for c in parse_catalog(target.read_text())] == ["one", "two"]

    again = runner.invoke(cli, ["models", "add-local", str(tiny_dirs["alpha"]), "--id", "one",
                                "--credits", "1", "--write", str(target)])
    assert again.exit_code == 1 and "already has a model called 'one'" in again.output
    missing = runner.invoke(cli, ["models", "add-local", str(tmp_path / "nope"), "--id", "x",
                                  "--credits", "1"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
