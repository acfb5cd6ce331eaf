"""Tiny-config training smoke tests: a few steps each, shapes, checkpoint + card written,
save/load round trip, resume, and determinism for a fixed seed."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from tests.support.training import quiet

from triptych.nets.autoencoder import load as load_ae
from triptych.nets.pico import load_pico
from triptych.training.autoencoder import train_autoencoder
from triptych.training.common import EMA, lr_at
from triptych.training.pico_diffusion import train_pico_diffusion
from triptych.training.pico_turbo import train_pico_turbo


def test_autoencoder_checkpoint_and_card(tiny_runs) -> None:
    ae = load_ae(tiny_runs["ae"])
    assert ae.encode(torch.zeros(1, 3, 64, 64)).shape == (1, 4, 16, 16)
    card = tiny_runs["ae"].with_suffix(".md").read_text()
    assert "PSNR" in card and "triptych train autoencoder" in card


def test_pico_checkpoints_and_cards(tiny_runs) -> None:
    teacher, student = load_pico(tiny_runs["pd"]), load_pico(tiny_runs["pt"])
    assert teacher.sampling.guidance is not None
    assert student.sampling.guidance is None and student.sampling.steps == 2
    assert teacher.tokenizer.vocab == student.tokenizer.vocab
    assert "triptych train pico-diffusion" in tiny_runs["pd"].with_suffix(".md").read_text()
    assert "triptych train pico-turbo" in tiny_runs["pt"].with_suffix(".md").read_text()


def test_same_seed_same_weights(tiny_runs, tmp_path) -> None:
    again = tmp_path / "ae.safetensors"
    train_autoencoder(tiny=True, seed=1, out=again, run_dir=tmp_path / "ae", **quiet)
    a, b = load_file(str(tiny_runs["ae"])), load_file(str(again))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    pd = tmp_path / "pd.safetensors"
    train_pico_diffusion(tiny=True, seed=1, out=pd, run_dir=tmp_path / "pd",
                         ae_path=tiny_runs["ae"], **quiet)
    a, b = load_file(str(tiny_runs["pd"])), load_file(str(pd))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_from_saved_state(tiny_runs, tmp_path) -> None:
    run = tmp_path / "pd"
    out = tmp_path / "pd.safetensors"
    train_pico_diffusion(tiny=True, steps=2, seed=1, out=out, run_dir=run,
                         ae_path=tiny_runs["ae"], **quiet)
    summary = train_pico_diffusion(tiny=True, steps=4, seed=1, out=out, run_dir=run,
                                   ae_path=tiny_runs["ae"], **quiet)
    assert summary["steps"] == 4
    lines = (run / "log.jsonl").read_text().splitlines()
    steps = [eval(line.replace("null", "None"))["step"] for line in lines if '"step"' in line]
    assert steps == [1, 2, 3, 4]  # steps 1-2 from the first run, 3-4 after resuming


def test_lr_schedule_and_ema() -> None:
    assert lr_at(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert lr_at(10, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_at(100, 1.0, 10, 100) == pytest.approx(0.1)
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model, step=1000)
    assert torch.allclose(ema.model.weight, model.weight - 0.5)


def test_warm_start_keeps_vocabulary_and_counts_steps(tiny_runs, tmp_path) -> None:
    out = tmp_path / "stage2.safetensors"
    summary = train_pico_diffusion(tiny=True, steps=2, seed=2, out=out, run_dir=tmp_path / "s2",
                                   ae_path=tiny_runs["ae"], init=tiny_runs["pd"], lr=1e-4,
                                   **quiet)
    first, second = load_pico(tiny_runs["pd"]), load_pico(out)
    assert summary["init_steps"] == 4 and summary["steps"] == 2
    assert second.tokenizer.vocab == first.tokenizer.vocab
    assert second.model.cfg == first.model.cfg
    assert second.meta["train"]["init_steps"] == 4
    assert "--init" in out.with_suffix(".md").read_text()
    # two tiny steps at lr 1e-4 move the weights only a little from the warm start
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-2) for k in a)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_overrides_batch_and_clock_reach_the_run_and_card(tiny_runs, tmp_path) -> None:
    out = tmp_path / "pd.safetensors"
    summary = train_pico_diffusion(tiny=True, seed=1, out=out, run_dir=tmp_path / "pd",
                                   ae_path=tiny_runs["ae"], batch=2, device="cpu",
                                   max_minutes=5.0, overrides={"checkpoint_minutes": 0.5},
                                   **quiet)
    assert summary["device"] == "cpu" and summary["steps"] == 4  # the clock never bit
    card = out.with_suffix(".md").read_text()
    assert "| batch | 2 |" in card and "--batch 2" in card


def test_asking_for_cuda_without_one_is_a_clear_error(tiny_runs, tmp_path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        train_pico_diffusion(tiny=True, seed=1, out=tmp_path / "pd.safetensors",
                             run_dir=tmp_path / "pd", ae_path=tiny_runs["ae"],
                             device="cuda", **quiet)


def test_turbo_takes_a_batch_lr_and_clock_and_its_card_says_so(tiny_runs, tmp_path) -> None:
    out = tmp_path / "pt.safetensors"
    summary = train_pico_turbo(tiny=True, seed=1, out=out, run_dir=tmp_path / "pt",
                               teacher_path=tiny_runs["pd"], batch=2, lr=3e-4, device="cpu",
                               max_minutes=5.0, overrides={"pair_chunk": 8}, **quiet)
    assert summary["device"] == "cpu" and summary["steps"] == 4  # the clock never bit
    assert summary["pairs"] == 8
    card = out.with_suffix(".md").read_text()
    assert "--batch 2" in card and "--lr 0.0003" in card and "| batch | 2 |" in card


def test_a_given_t_is_used_as_is(tiny_runs) -> None:
    from triptych.diffusion.flow import FlowMatching
    from triptych.diffusion.reflow import reflow_loss

    student = load_pico(tiny_runs["pd"]).model
    x0, noise = torch.randn(3, 4, 16, 16), torch.randn(3, 4, 16, 16)
    ids = load_pico(tiny_runs["pd"]).tokenizer(["a dog"] * 3)
    flow = FlowMatching("u_shaped")
    drawn = reflow_loss(student, flow, x0, noise, ids, torch.Generator().manual_seed(5))
    t = flow.sample_t(3, torch.Generator().manual_seed(5))
    assert torch.equal(reflow_loss(student, flow, x0, noise, ids, t=t), drawn)


def test_turbo_continues_an_earlier_student(tiny_runs, tmp_path) -> None:
    out = tmp_path / "pt2.safetensors"
    summary = train_pico_turbo(tiny=True, seed=1, out=out, run_dir=tmp_path / "pt2",
                               teacher_path=tiny_runs["pd"], init=tiny_runs["pt"], **quiet)
    assert summary["init_steps"] == 4
    assert "--init <the previous pico-turbo>" in out.with_suffix(".md").read_text()
    first, second = load_pico(tiny_runs["pt"]).model, load_pico(out).model
    assert any(not torch.equal(a, b) for a, b in
               zip(first.state_dict().values(), second.state_dict().values(), strict=True))
    from triptych.nets.pico import PicoModel, SamplingDefaults, save_pico
    from triptych.nets.text_encoder import Tokenizer
    from triptych.nets.unet import UNET_CONFIGS

    model = PicoModel(UNET_CONFIGS["tiny"])  # a teacher with another vocabulary
    other = save_pico(tmp_path / "other.safetensors", model, model.cfg,
                      Tokenizer.build(["a dog"]), SamplingDefaults())
    with pytest.raises(ValueError, match="vocabulary"):
        train_pico_turbo(tiny=True, seed=1, out=tmp_path / "x.safetensors",
                         run_dir=tmp_path / "x", teacher_path=other, init=tiny_runs["pt"],
                         **quiet)


def test_a_student_can_drop_attention_levels(tiny_runs, tmp_path) -> None:
    out = tmp_path / "lean.safetensors"
    teacher = load_pico(tiny_runs["pd"]).model
    assert teacher.cfg.attn_levels == (1,)
    train_pico_turbo(tiny=True, seed=1, out=out, run_dir=tmp_path / "lean",
                     teacher_path=tiny_runs["pd"], attention=(), **quiet)
    student = load_pico(out).model
    assert student.cfg.attn_levels == ()  # the 8x8 blocks are gone, the middle block stays
    assert sum(p.numel() for p in student.parameters()) < sum(
        p.numel() for p in teacher.parameters())
    assert "--student-attention none" in out.with_suffix(".md").read_text()
    with pytest.raises(ValueError, match="attention at levels 1 only"):
        train_pico_turbo(tiny=True, seed=1, out=tmp_path / "x.safetensors",
                         run_dir=tmp_path / "x", teacher_path=tiny_runs["pd"], attention=(0,),
                         **quiet)
    assert not (tmp_path / "x" / "pairs.pt").exists()  # refused before any teacher sampling
    from click.testing import CliRunner

    from triptych.cli.commands import train_models  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train

    result = CliRunner().invoke(train, [
        "pico-turbo", "--tiny", "--teacher", str(tiny_runs["pd"]), "--student-attention", "0",
        "--run-dir", str(tmp_path / "y")])
    assert result.exit_code == 2 and "attention at levels 1 only" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_turbo_cli_takes_the_schedule_and_init_flags(tiny_runs, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from triptych.cli.commands import train_models  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train

    monkeypatch.setenv("TRIPTYCH_TORCH_THREADS", "1")
    out = tmp_path / "cli.safetensors"
    result = CliRunner().invoke(train, [
        "pico-turbo", "--tiny", "--teacher", str(tiny_runs["pd"]), "--init", str(tiny_runs["pt"]),
        "--batch", "2", "--lr", "3e-4", "--device", "cpu", "--max-minutes", "5", "--out",
        str(out), "--run-dir", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    card = out.with_suffix(".md").read_text()
    assert "--batch 2" in card and "--lr 0.0003" in card and "--init" in card


def test_layout_weights_reach_the_cache_and_card(tiny_runs, tmp_path) -> None:
    from triptych.world.parse import parse_prompt

    out = tmp_path / "pd.safetensors"
    train_pico_diffusion(tiny=True, seed=1, out=out, run_dir=tmp_path / "pd",
                         ae_path=tiny_runs["ae"], kinds="shapes=1", **quiet)
    cache = torch.load(tmp_path / "pd" / "cache.pt", weights_only=False)
    assert {parse_prompt(c).task for c in cache["captions"]} == {"attribute_binding"}
    assert "--kinds 'shapes=1'" in out.with_suffix(".md").read_text()


@pytest.mark.parametrize("bad", ["", "pair", "pair=x", "blobs=1", "pair=-1", "pair=0",
                                 "pair=nan", "pair=inf"])
def test_bad_layout_weights_are_refused_before_any_work(bad, tmp_path) -> None:
    from triptych.training.data import parse_kinds

    with pytest.raises(ValueError):
        parse_kinds(bad)
    if bad:  # an empty string means "the world's own mix"
        with pytest.raises(ValueError):
            train_pico_diffusion(tiny=True, out=tmp_path / "x.safetensors",
                                 run_dir=tmp_path / "x", kinds=bad, **quiet)
    assert not (tmp_path / "x").exists()
