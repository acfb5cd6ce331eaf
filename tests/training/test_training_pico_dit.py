"""pico-dit trainer (tiny config): checkpoint + card, the loss falls on a fixed batch, a fixed
seed gives the same weights, an interrupted run resumes exactly, CLI and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from tests.support.clock import TickingTimer
from tests.support.training import quiet

from triptych.diffusion.dit_pipeline import load_dit_pipeline
from triptych.diffusion.flow import FlowMatching
from triptych.nets import autoencoder as ae_mod
from triptych.nets.checkpoint import CheckpointError
from triptych.nets.pico_dit import PicoDiT, load_transformer
from triptych.training import loop
from triptych.training.loop import BatchOrder
from triptych.training.pico_dit import build_pico_dit, train_pico_dit


@pytest.fixture(scope="module")
def ae_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("ae")
    return ae_mod.save(ae_mod.Autoencoder(ae_mod.AE_CONFIGS["tiny"]), root / "ae.safetensors")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, ae_path) -> dict:
    root = tmp_path_factory.mktemp("pico-dit")
    out = root / "w" / "pico-dit.safetensors"
    summary = train_pico_dit(tiny=True, seed=1, out=out, run_dir=root / "run", ae_path=ae_path,
                             **quiet)
    return {"root": root, "out": out, "summary": summary}


def test_checkpoint_card_and_pipeline(tiny_run, ae_path) -> None:
    s = tiny_run["summary"]
    assert s["steps"] == 4 and s["device"] == "cpu" and s["bf16"] is False
    bundle = load_transformer(tiny_run["out"])
    assert isinstance(bundle.model, PicoDiT) and bundle.sampling.guidance == 3.0
    card = tiny_run["out"].with_suffix(".md").read_text()
    assert "triptych train pico-dit" in card and "adaLN-Zero" in card
    assert (tiny_run["root"] / "run" / "pico-dit.safetensors").is_file()  # mid-run export
    pipe = load_dit_pipeline(tiny_run["out"], ae_path)
    assert pipe(["two cats"], [3]).shape == (1, 3, 64, 64)


def test_loss_falls_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = build_pico_dit("tiny", vocab_size=20, max_len=6, text_layers=1)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(8, 4, 16, 16, generator=gen)
    noise = torch.randn(8, 4, 16, 16, generator=gen)
    t = torch.rand(8, generator=gen)
    ids = torch.randint(3, 20, (8, 6), generator=gen)
    flow = FlowMatching()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = flow.loss(lambda xt, tt: model(xt, tt, ids), x0, noise, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_batch_order_is_a_function_of_the_step() -> None:
    a, b = BatchOrder(10, 3, seed=5), BatchOrder(10, 3, seed=5)
    first = [a(k).tolist() for k in range(7)]
    assert [b(k).tolist() for k in reversed(range(7))] == first[::-1]
    assert sorted(sum(first[:3], [])) == sorted(set(sum(first[:3], [])))  # no repeats per epoch
    with pytest.raises(ValueError, match="fewer than one batch"):
        BatchOrder(2, 3, seed=0)


def test_same_seed_same_weights_and_exact_resume(tiny_run, ae_path, tmp_path,
                                                 monkeypatch) -> None:
    # interrupt a run right after its step-2 checkpoint, then rerun the same command
    real_lr_at = loop.lr_at

    def crash_at_step_2(step, *args):
        if step == 2:
            raise KeyboardInterrupt
        return real_lr_at(step, *args)

    monkeypatch.setattr(loop, "lr_at", crash_at_step_2)
    out, run = tmp_path / "pico-dit.safetensors", tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_pico_dit(tiny=True, seed=1, out=out, run_dir=run, ae_path=ae_path, **quiet)
    monkeypatch.setattr(loop, "lr_at", real_lr_at)
    assert train_pico_dit(tiny=True, seed=1, out=out, run_dir=run, ae_path=ae_path,
                          **quiet)["steps"] == 4
    a, b = load_file(str(tiny_run["out"])), load_file(str(out))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [line for line in (run / "log.jsonl").read_text().splitlines() if '"step"' in line]
    assert len(steps) == 4

    other = tmp_path / "seed2.safetensors"
    train_pico_dit(tiny=True, seed=2, out=other, run_dir=tmp_path / "run2", ae_path=ae_path,
                   **quiet)
    c = load_file(str(other))
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_missing_autoencoder_names_the_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no-ae.safetensors not found"):
        train_pico_dit(tiny=True, out=tmp_path / "m.safetensors", run_dir=tmp_path / "r",
                       ae_path=tmp_path / "no-ae.safetensors", **quiet)


def test_cli_trains_tiny_and_refuses_missing_cuda(tmp_path, ae_path, monkeypatch) -> None:
    monkeypatch.setenv("TRIPTYCH_TORCH_THREADS", "1")
    from triptych.cli.commands import train_family  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train as cli

    out = tmp_path / "cli.safetensors"
    args = ["pico-dit", "--tiny", "--no-resume", "--out", str(out), "--run-dir",
            str(tmp_path / "run"), "--autoencoder", str(ae_path), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert out.is_file() and '"steps": 4' in result.output
    if not torch.cuda.is_available():
        result = CliRunner().invoke(cli, [*args, "--device", "cuda"])
        assert result.exit_code == 2 and "CUDA is not available" in result.output


def test_bf16_autocast_step_runs_for_both_models() -> None:
    """The bf16 path the trainer takes on AVX-512 CPUs and CUDA: forward, loss, backward."""
    from triptych.nets.lm_connector import LM_DIM
    from triptych.training.pico_lm import build_pico_lm

    torch.manual_seed(0)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    cases = [(build_pico_dit("tiny", 20, 6, 1), torch.randint(3, 20, (2, 6))),
             (build_pico_lm("tiny"), (torch.randn(2, 5, LM_DIM), mask))]
    for model, inputs in cases:
        x0, noise, t = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16), torch.rand(2)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = FlowMatching().loss(
                lambda xt, tt, m=model, i=inputs: m(xt, tt, i, drop=torch.tensor([True, False])),
                x0, noise, t)
        loss.backward()
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        assert model.null.grad is not None


def test_max_minutes_fits_the_schedule_to_the_clock(tmp_path, ae_path, monkeypatch) -> None:
    monkeypatch.setattr(loop, "Timer", TickingTimer)
    out = tmp_path / "capped.safetensors"
    summary = train_pico_dit(tiny=True, steps=5000, max_minutes=0.03, seed=1, out=out,
                             run_dir=tmp_path / "run", ae_path=ae_path, **quiet)
    assert 70 < summary["planned_steps"] < 5000
    assert summary["steps"] == summary["planned_steps"]  # the fitted schedule ran to its end
    assert f"--steps {summary['planned_steps']}" in out.with_suffix(".md").read_text()


def test_warm_start_keeps_weights_vocabulary_and_counts_steps(tiny_run, ae_path,
                                                                tmp_path) -> None:
    out = tmp_path / "again.safetensors"
    summary = train_pico_dit(tiny=True, seed=2, out=out, run_dir=tmp_path / "run",
                             ae_path=ae_path, init=tiny_run["out"], steps=0, **quiet)
    assert summary["init_steps"] == 4 and summary["steps"] == 0
    first, again = load_transformer(tiny_run["out"]), load_transformer(out)
    assert again.tokenizer.vocab == first.tokenizer.vocab
    a, b = first.model.state_dict(), again.model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-2) for k in a)
    assert "warm-started from" in out.with_suffix(".md").read_text()


def test_warm_start_from_another_kind_is_a_clear_error(tiny_run, ae_path, tmp_path) -> None:
    from triptych.training.pico_diffusion import train_pico_diffusion

    pd = tmp_path / "pd.safetensors"
    train_pico_diffusion(tiny=True, seed=1, out=pd, run_dir=tmp_path / "pd", ae_path=ae_path,
                         **quiet)
    with pytest.raises(ValueError, match="not a pico-dit checkpoint"):
        train_pico_dit(tiny=True, seed=1, out=tmp_path / "x.safetensors",
                       run_dir=tmp_path / "run", ae_path=ae_path, init=pd, **quiet)


def test_layout_weights_reach_the_cache_and_card(ae_path, tmp_path) -> None:
    from triptych.world.parse import parse_prompt

    out = tmp_path / "dit.safetensors"
    train_pico_dit(tiny=True, seed=1, out=out, run_dir=tmp_path / "run", ae_path=ae_path,
                   kinds="count=1", **quiet)
    cache = torch.load(tmp_path / "run" / "cache.pt", weights_only=False)
    assert {parse_prompt(c).task for c in cache["captions"]} == {"counting"}
    assert "--kinds 'count=1'" in out.with_suffix(".md").read_text()


def test_bad_layout_weights_are_refused_before_any_work(ae_path, tmp_path) -> None:
    with pytest.raises(ValueError, match="layout weight of 'count'"):
        train_pico_dit(tiny=True, out=tmp_path / "x.safetensors", run_dir=tmp_path / "x",
                       ae_path=ae_path, kinds="count=-1", **quiet)
    assert not (tmp_path / "x").exists()
    from triptych.cli.commands import train_family  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train as cli

    result = CliRunner().invoke(cli, ["pico-lm", "--tiny", "--kinds", "blobs=1",
                                      "--run-dir", str(tmp_path / "y")])
    assert result.exit_code != 0 and "blobs" in result.output
    assert not (tmp_path / "y").exists()
