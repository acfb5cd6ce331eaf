"""scripts/train_on_gpu.py: the caches it renders in parallel are the ones the trainers
would have built themselves (same paths, same contents), so they pick them up unchanged."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from triptych.nets import autoencoder as ae_mod
from triptych.nets import bits_tokenizer as bt
from triptych.nets.checkpoint import weights_path
from triptych.nets.text_encoder import SPECIALS, Tokenizer
from triptych.training import data
from triptych.training.pico_bits import token_cache

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_on_gpu.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_on_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_on_gpu"] = module  # the render pool pickles its worker by module name
    spec.loader.exec_module(module)
    return module


def _one_args(name: str):
    """``one NAME`` as the script's own parser reads it: a tiny CPU run."""
    return _script().build_parser().parse_args(
        ["one", name, "--minutes", "5", "--tiny", "--device", "cpu", "--pairs", "64",
         "--bits-pairs", "64"])


def test_parallel_caches_equal_the_trainers_own(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "data")
    _script().build_caches(pairs=300, bits_pairs=200, seed=3, device="cpu", workers=2)
    built = {p.name: torch.load(p, weights_only=False)
             for p in (tmp_path / "data").glob("*.pt")}
    assert len(built) == 3  # latents, bits tokens, bits validation tokens

    ae = ae_mod.load(weights_path(ae_mod.CHECKPOINT_NAME))
    own = data.latent_cache(ae, Tokenizer(list(SPECIALS)), n=300, seed=3,
                            path=tmp_path / "own-latents.pt", log=lambda _: None)
    (name,) = [n for n in built if n.startswith("latents_train_s3_n300_")]
    assert built[name]["captions"] == own["captions"]
    assert torch.allclose(built[name]["latents"].float(), own["latents"].float(), atol=1e-2)

    tok = bt.load(weights_path(bt.CHECKPOINT_NAME))
    own = token_cache(tok, n=200, seed=3, path=tmp_path / "own-bits.pt", log=lambda _: None)
    (name,) = [n for n in built if n.startswith("bits_train_s3_n200_")]
    assert built[name]["captions"] == own["captions"]
    assert (built[name]["ids"] == own["ids"]).float().mean() > 0.99


def test_a_chain_distils_the_pico_diffusion_it_just_trained(tmp_path, monkeypatch) -> None:
    script = _script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "STAGED", tmp_path / "gpu-out")
    args = _one_args("pico-diffusion+pico-turbo")
    script.train_one(args)
    from triptych.nets.pico import load_pico

    teacher = load_pico(tmp_path / "gpu-out" / "pico-diffusion.safetensors")
    student = load_pico(tmp_path / "gpu-out" / "pico-turbo.safetensors")
    assert student.meta["train"]["teacher"] == "pico-diffusion.safetensors"
    assert student.tokenizer.vocab == teacher.tokenizer.vocab  # the tiny teacher's ...
    assert teacher.tokenizer.vocab != load_pico(weights_path("pico-diffusion")).tokenizer.vocab


def test_a_chain_trains_pico_bits_on_the_tokenizer_it_just_trained(tmp_path, monkeypatch) -> None:
    script = _script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "STAGED", tmp_path / "gpu-out")
    monkeypatch.setattr(script, "TOKENIZER_WORKERS", 1)
    args = _one_args("bits-tokenizer+pico-bits")
    script.train_one(args)
    from triptych.autoregressive.pipeline import load_bits

    bits = load_bits(tmp_path / "gpu-out" / "pico-bits.safetensors")
    fresh = bt.load(tmp_path / "gpu-out" / "bits-tokenizer.safetensors")
    assert fresh.cfg.context_layers == script.TOKENIZER_CONTEXT_LAYERS  # the decoder's stage
    assert bits.meta["tokenizer_fingerprint"] == bt.fingerprint(fresh)
    assert bits.meta["tokenizer_fingerprint"] != bt.fingerprint(
        bt.load(weights_path(bt.CHECKPOINT_NAME)))


def _scored_tokenizer(path: Path, bits: int, objects: float, counts: float) -> Path:
    from dataclasses import replace

    from triptych.nets.lfq import LFQConfig

    cfg = replace(bt.TOKENIZER_CONFIGS["tiny"], lfq=LFQConfig(bits=bits, entropy_group=bits))
    rec = {"object_class": objects, "count_exact": counts, "background": 1.0}
    bt.save(bt.BitsTokenizer(cfg), path,
            {"train": {"judge_ceiling": {"renders": {}, "reconstructions": rec}}})
    return path


def test_the_search_picks_the_best_ceiling_and_makes_more_bits_earn_their_place(
        tmp_path) -> None:
    script = _script()
    small = _scored_tokenizer(tmp_path / "a.safetensors", 6, 0.80, 0.60)  # score 0.70
    wide = _scored_tokenizer(tmp_path / "b.safetensors", 6, 0.84, 0.62)  # 0.73
    finer = _scored_tokenizer(tmp_path / "c.safetensors", 8, 0.86, 0.62)  # 0.74 - margin
    from triptych.nets.checkpoint import read_checkpoint

    assert script.ceiling_score(read_checkpoint(wide)[1]) == pytest.approx(0.73)
    assert script.pick_tokenizer({"small": small, "medium": wide, "fine": finer}) == "medium"
    best = _scored_tokenizer(tmp_path / "d.safetensors", 8, 0.90, 0.66)  # 0.78: clearly ahead
    assert script.pick_tokenizer({"small": small, "medium": wide, "fine": best}) == "fine"
    # a run stopped before its export, or trained without a judge, is not a candidate
    bt.save(bt.BitsTokenizer(bt.TOKENIZER_CONFIGS["tiny"]), tmp_path / "e.safetensors")
    assert script.pick_tokenizer({"gone": tmp_path / "none.safetensors",
                                  "unjudged": tmp_path / "e.safetensors"}) is None
    assert script.pick_tokenizer({"small": small, "gone": tmp_path / "x.safetensors"}) == "small"


def test_one_refines_a_decoder_and_continues_a_pico_bits(tmp_path, monkeypatch) -> None:
    from tests.support.training import quiet

    from triptych.autoregressive.pipeline import load_bits
    from triptych.training.bits_tokenizer import train_bits_tokenizer
    from triptych.training.pico_bits import train_pico_bits

    script = _script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "STAGED", tmp_path / "gpu-out")
    tok, gpt = tmp_path / "tok.safetensors", tmp_path / "gpt.safetensors"
    train_bits_tokenizer(tiny=True, out=tok, run_dir=tmp_path / "t", **quiet)
    train_pico_bits(tiny=True, out=gpt, run_dir=tmp_path / "g", tokenizer_path=tok, **quiet)
    parse = script.build_parser().parse_args
    common = ["--minutes", "5", "--tiny", "--device", "cpu"]
    script.train_one(parse(["one", "bits-tokenizer", "--decoder-from", str(tok), *common]))
    refined = bt.load(tmp_path / "gpu-out" / "bits-tokenizer.safetensors")
    assert bt.fingerprint(refined) == bt.fingerprint(bt.load(tok))  # same token space
    script.train_one(parse(["one", "pico-bits", "--tokenizer", str(tok), "--bits-init", str(gpt),
                            "--bits-lr", "1e-4", *common]))
    more = load_bits(tmp_path / "gpu-out" / "pico-bits.safetensors")
    assert more.tokenizer.vocab == load_bits(gpt).tokenizer.vocab  # continued, not afresh
    assert more.meta["train_config"]["lr"] == 1e-4
