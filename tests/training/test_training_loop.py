"""The one training loop (``training/loop.py``): every trainer resumes bit-for-bit (4 steps in
one go equal 2 steps, a resume and 2 more: model, EMA, optimiser and RNG states, exported
weights), and device resolution has one default and one error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from tests.support.training import FakeSentenceModel, quiet

from triptych.nets.lm_connector import FrozenLM
from triptych.training.autoencoder import train_autoencoder
from triptych.training.bits_tokenizer import train_bits_tokenizer
from triptych.training.fast_decoder import train_fast_decoder
from triptych.training.judge import TINY as JUDGE_TINY
from triptych.training.judge import train_judge
from triptych.training.loop import read_run_state, resolve_device
from triptych.training.pico_bits import train_pico_bits
from triptych.training.pico_diffusion import train_pico_diffusion
from triptych.training.pico_dit import train_pico_dit
from triptych.training.pico_lm import train_pico_lm
from triptych.training.pico_turbo import train_pico_turbo
from triptych.training.turbo_compress import compress_turbo


@pytest.fixture(scope="module")
def bits_tokenizer(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bits")
    out = root / "bits-tokenizer.safetensors"
    train_bits_tokenizer(tiny=True, seed=1, out=out, run_dir=root / "run", **quiet)
    return out


def _train_judge(*, tiny: bool, seed: int, steps: int, out: Path, run_dir: Path, threads: int,
                 **kwargs: Any) -> dict:
    """The judge's trainer takes its recipe whole (the CLI's options): the tiny one here."""
    assert tiny
    return train_judge(replace(JUDGE_TINY, seed=seed, steps=steps, threads=threads), run_dir,
                       out, use_ae=False, **kwargs)


# each trainer on its tiny config (warm-up 2 steps: the first 2 steps' learning rates do not
# depend on the schedule's length, so a 2-step run is the first half of a 4-step one)
TRAINERS: dict[str, Callable[[dict[str, Path]], tuple[Callable[..., Any], dict[str, Any]]]] = {
    "autoencoder": lambda r: (train_autoencoder, {}),
    "autoencoder decoder fine-tune": lambda r: (train_autoencoder, {"decoder_steps": 4}),
    "bits-tokenizer": lambda r: (train_bits_tokenizer, {}),
    "bits-tokenizer decoder": lambda r: (train_bits_tokenizer,
                                         {"decoder_from": r["tok"], "context_layers": 1}),
    "fast-decoder": lambda r: (train_fast_decoder, {"ae_path": r["ae"]}),
    "judge": lambda r: (_train_judge, {}),
    "pico-bits": lambda r: (train_pico_bits, {"tokenizer_path": r["tok"]}),
    "pico-diffusion": lambda r: (train_pico_diffusion, {"ae_path": r["ae"]}),
    "pico-dit": lambda r: (train_pico_dit, {"ae_path": r["ae"]}),
    "pico-lm": lambda r: (train_pico_lm, {"ae_path": r["ae"], "lm": FrozenLM(FakeSentenceModel())}),
    "pico-turbo": lambda r: (train_pico_turbo, {"teacher_path": r["pd"]}),
    # a lean student: one identical to its teacher has a zero loss and never moves
    "pico-turbo compress": lambda r: (compress_turbo, {"teacher_path": r["pt"], "lite": (1,)}),
}


def _same_state(a: Path, b: Path, prefix: str = "") -> None:
    (ta, ma), (tb, mb) = read_run_state(a, prefix), read_run_state(b, prefix)
    assert ma["step"] == mb["step"] == 4
    assert ta.keys() == tb.keys()
    assert {k.split(".")[0] for k in ta} >= {"model", "opt", "rng"}
    differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"
    assert (ma["opt_groups"], ma["opt_scalars"], ma["rng"]) == (
        mb["opt_groups"], mb["opt_scalars"], mb["rng"])


@pytest.mark.parametrize("name", list(TRAINERS))
def test_every_trainer_resumes_bit_for_bit(name, tiny_runs, bits_tokenizer, tmp_path) -> None:
    trainer, kwargs = TRAINERS[name]({**tiny_runs, "tok": bits_tokenizer})
    fine_tune = "decoder_steps" in kwargs  # the autoencoder's second, decoder-only loop
    half = {"decoder_steps": 2} if fine_tune else {"steps": 2}

    def run(where: str, **given: Any) -> Path:
        trainer(tiny=True, seed=3, out=tmp_path / f"{where}.safetensors",
                run_dir=tmp_path / where, **{**kwargs, **given}, **quiet)
        return tmp_path / where

    straight = run("straight", steps=4)
    run("resumed", **{"steps": 4, **half})
    resumed = run("resumed", steps=4)
    _same_state(straight, resumed, "decoder_" if fine_tune else "")
    if not fine_tune:
        ema = read_run_state(straight)[1]["ema"]
        assert ema == (name.startswith("pico")), "EMA where the trainer ships it"
    a, b = load_file(str(straight) + ".safetensors"), load_file(str(resumed) + ".safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_run_differs_if_its_state_is_not_restored(tiny_runs, tmp_path) -> None:
    """The check above has teeth: a second run that starts over (no resume) from the half
    run's directory ends elsewhere."""
    kwargs = {"ae_path": tiny_runs["ae"], **quiet}
    train_pico_diffusion(tiny=True, seed=3, steps=4, run_dir=tmp_path / "a",
                         out=tmp_path / "a.safetensors", **kwargs)
    train_pico_diffusion(tiny=True, seed=3, steps=2, run_dir=tmp_path / "b",
                         out=tmp_path / "b.safetensors", **kwargs)
    train_pico_diffusion(tiny=True, seed=3, steps=2, run_dir=tmp_path / "b", resume=False,
                         out=tmp_path / "b.safetensors", **kwargs)
    (ta, _), (tb, _) = read_run_state(tmp_path / "a"), read_run_state(tmp_path / "b")
    assert any(not torch.equal(ta[k], tb[k]) for k in ta if k.startswith("model."))


def test_a_run_state_of_the_old_format_is_refused_not_overwritten(tiny_runs, tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.pt").write_bytes(b"old")
    with pytest.raises(ValueError, match="--no-resume"):
        train_fast_decoder(tiny=True, seed=1, out=tmp_path / "x.safetensors", run_dir=run,
                           ae_path=tiny_runs["ae"], **quiet)
    assert not (run / "log.jsonl").exists()


def test_device_resolution_has_one_default_and_one_error() -> None:
    cpu = torch.device("cpu")
    assert resolve_device(None) == resolve_device("cpu") == resolve_device("") == cpu
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda:0") == torch.device("cuda:0")
    else:
        for asked in ("cuda", "cuda:1"):
            with pytest.raises(ValueError, match=f"--device {asked}: CUDA is not available"):
                resolve_device(asked)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", [["bits-tokenizer"], ["pico-bits"], ["pico-diffusion"],
                                     ["pico-turbo"], ["pico-dit"], ["pico-lm"]])
def test_every_cli_refuses_missing_cuda_as_a_usage_error(command, tmp_path) -> None:
    from triptych.cli.main import cli

    result = CliRunner().invoke(cli, ["train", *command, "--tiny", "--device", "cuda",
                                      "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "CUDA is not available" in result.output
    assert not (tmp_path / "run").exists()  # refused before any work


def test_the_global_random_states_resume_too(tmp_path) -> None:
    """A loss that draws from torch's, numpy's and python's global generators (dropout, a
    library's own sampling) continues after a resume as it would have."""
    import random

    import numpy as np

    from triptych.training.common import seed_everything
    from triptych.training.loop import Job, Schedule, train

    def run(where: str, steps: int) -> dict[str, torch.Tensor]:
        seed_everything(0)
        net = torch.nn.Linear(3, 1)
        noisy = torch.nn.Dropout(0.5)

        def loss(_step: int, gen: torch.Generator) -> torch.Tensor:
            x = torch.randn(4, 3, generator=gen) + float(np.random.rand()) + random.random()
            return noisy(net(x)).pow(2).mean()

        opt = torch.optim.Adam(net.parameters(), lr=0.1)
        train(Job("toy", net, opt, loss, seed=0), Schedule(steps=steps, lr=0.1, warmup=2,
                                                        ema=0.9, log_every=1),
              run_dir=tmp_path / where, log=lambda *_: None)
        return net.state_dict()

    straight = run("straight", 4)
    run("resumed", 2)
    resumed = run("resumed", 4)  # its setup draws what the first half's did: not step 2's
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_the_loop_evaluates_stops_early_and_shows_a_trainer_its_state(tmp_path) -> None:
    """``Job.evaluate`` is logged every ``eval_every`` steps and at the end, train/eval modes
    untouched; ``stop_at`` keeps a state to resume; ``on_start`` sees the fresh or resumed state
    before any step; the cosine ends at ``final_frac``."""
    import json

    from triptych.training.common import lr_at
    from triptych.training.loop import Job, Schedule, train

    net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Dropout(0.1)).train()
    started: list[int] = []

    def loss(_step: int, gen: torch.Generator) -> torch.Tensor:
        return net(torch.randn(4, 3, generator=gen)).pow(2).mean()

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        model.eval()
        return {"w": float(model[0].weight.detach().sum())}

    def run(**given: Any):
        job = Job("toy", net, torch.optim.SGD(net.parameters(), lr=0.1), loss, seed=0,
                  evaluate=evaluate)
        return train(job, Schedule(steps=5, lr=0.1, warmup=1, final_frac=0.5, eval_every=2,
                                   log_every=1),
                     run_dir=tmp_path, on_start=lambda s: started.append(s.step),
                     log=lambda *_: None, **given)

    stopped = run(stop_at=3)
    assert stopped.state.step == 3 < stopped.total and read_run_state(tmp_path)[1]["step"] == 3
    assert net.training and net[1].training
    assert run().state.step == 5 and started == [0, 3]
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval" in r] == [2, 4, 5]
    assert rows[-2]["lr"] == pytest.approx(lr_at(4, 0.1, 1, 5, final_frac=0.5))
