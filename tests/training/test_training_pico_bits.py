"""pico-bits trainers on tiny configs: loss falls, checkpoints + cards, save/load round trip,
same seed -> same weights, resume, clear errors for missing checkpoints, CLI wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from tests.support.clock import TickingTimer
from tests.support.training import quiet

from triptych.autoregressive.pipeline import load_bits, load_bits_pipeline
from triptych.nets import bits_tokenizer as bt
from triptych.nets.checkpoint import CheckpointError
from triptych.training.bits_tokenizer import train_bits_tokenizer
from triptych.training.pico_bits import BitsTrainConfig, train_pico_bits


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bits")
    tok = root / "w" / "bits-tokenizer.safetensors"
    train_bits_tokenizer(tiny=True, seed=1, out=tok, run_dir=root / "tok", **quiet)
    gpt = root / "w" / "pico-bits.safetensors"
    train_pico_bits(tiny=True, seed=1, out=gpt, run_dir=root / "gpt", tokenizer_path=tok,
                    **quiet)
    return {"root": root, "tok": tok, "gpt": gpt}


def _losses(run: Path, key: str = "loss") -> list[float]:
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r[key] for r in rows if key in r and "step" in r]


def test_checkpoints_cards_and_round_trip(runs) -> None:
    tok = bt.load(runs["tok"])
    assert tok.encode(torch.zeros(1, 3, 64, 64)).shape == (1, 64)
    card = runs["tok"].with_suffix(".md").read_text()
    assert "triptych train bits-tokenizer" in card and "PSNR" in card and "codes used" in card
    bundle = load_bits(runs["gpt"])
    assert bundle.meta["tokenizer_fingerprint"] == bt.fingerprint(tok)
    assert bundle.model.cfg.bits == tok.bits
    assert bundle.sampling.guidance == BitsTrainConfig().guidance
    stored = load_file(str(runs["gpt"]))
    assert all(torch.equal(stored[k].float(), v) for k, v in bundle.model.state_dict().items())
    card = runs["gpt"].with_suffix(".md").read_text()
    assert "triptych train pico-bits" in card and "held-out CE" in card
    pipe = load_bits_pipeline(runs["gpt"], runs["tok"])
    assert pipe([" a red circle"], [0]).shape == (1, 3, 64, 64)


def test_tiny_training_lowers_the_loss(runs, tmp_path) -> None:
    run = tmp_path / "gpt"
    train_pico_bits(tiny=True, steps=40, seed=2, out=tmp_path / "g.safetensors", run_dir=run,
                    tokenizer_path=runs["tok"], **quiet)
    ce = _losses(run, "ce0")
    assert len(ce) == 40
    assert sum(ce[-5:]) / 5 < sum(ce[:5]) / 5 - 0.2  # nats per token


def test_same_seed_same_weights(runs, tmp_path) -> None:
    again = tmp_path / "tok.safetensors"
    train_bits_tokenizer(tiny=True, seed=1, out=again, run_dir=tmp_path / "tok", **quiet)
    a, b = load_file(str(runs["tok"])), load_file(str(again))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    gpt = tmp_path / "gpt.safetensors"
    train_pico_bits(tiny=True, seed=1, out=gpt, run_dir=tmp_path / "gpt",
                    tokenizer_path=runs["tok"], **quiet)
    a, b = load_file(str(runs["gpt"])), load_file(str(gpt))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_from_saved_state(runs, tmp_path) -> None:
    run, out = tmp_path / "gpt", tmp_path / "gpt.safetensors"
    train_pico_bits(tiny=True, steps=2, seed=1, out=out, run_dir=run,
                    tokenizer_path=runs["tok"], **quiet)
    summary = train_pico_bits(tiny=True, steps=4, seed=1, out=out, run_dir=run,
                              tokenizer_path=runs["tok"], **quiet)
    assert summary["steps"] == 4
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "step" in r] == [1, 2, 3, 4]


def test_a_decoder_refinement_keeps_the_token_space(runs, tmp_path) -> None:
    out = tmp_path / "refined.safetensors"
    summary = train_bits_tokenizer(tiny=True, steps=3, seed=2, out=out, run_dir=tmp_path / "r",
                                   decoder_from=runs["tok"], **quiet)
    before, after = load_file(str(runs["tok"])), load_file(str(out))
    assert before.keys() == after.keys()
    kept = [k for k in before if not k.startswith("decoder.")]
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert summary["fingerprint"] == bt.fingerprint(bt.load(runs["tok"]))
    # pico-bits trained on the old tokenizer decodes through the refined one
    pipe = load_bits_pipeline(runs["gpt"], out)
    assert pipe([" a red circle"], [0]).shape == (1, 3, 64, 64)
    card = out.with_suffix(".md").read_text()
    assert "--decoder-from" in card and "Decoder refinement" in card


def test_a_refinement_can_add_a_context_stage(runs, tmp_path) -> None:
    out = tmp_path / "ctx.safetensors"
    summary = train_bits_tokenizer(tiny=True, steps=3, seed=2, out=out, run_dir=tmp_path / "c",
                                   decoder_from=runs["tok"], context_layers=1, **quiet)
    tok = bt.load(out)
    assert tok.cfg.context_layers == 1 and summary["fingerprint"] == bt.fingerprint(tok)
    assert any(k.startswith("decoder.context.") for k in load_file(str(out)))
    assert load_bits_pipeline(runs["gpt"], out)([" a red circle"], [0]).shape == (1, 3, 64, 64)
    assert "--context-layers 1" in out.with_suffix(".md").read_text()


def test_missing_checkpoints_name_the_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no-tokenizer.safetensors not found"):
        train_pico_bits(tiny=True, out=tmp_path / "g.safetensors", run_dir=tmp_path / "g",
                        tokenizer_path=tmp_path / "no-tokenizer.safetensors", **quiet)
    with pytest.raises(CheckpointError, match="pico-bits.safetensors not found"):
        load_bits_pipeline(tmp_path / "pico-bits.safetensors", tmp_path / "t.safetensors")


def test_judge_ceiling_is_optional(runs, monkeypatch) -> None:
    import triptych.judge.checkpoint as judge_ckpt
    from triptych.judge.model import Judge, JudgeConfig
    from triptych.training.bits_tokenizer import judge_ceiling

    tok = bt.load(runs["tok"])

    def missing(path=None):
        raise judge_ckpt.JudgeCheckpointError("Judge checkpoint not found: judge.safetensors",
                                              path="judge.safetensors")

    monkeypatch.setattr(judge_ckpt, "load_judge", missing)
    assert judge_ceiling(tok, 8, 0, log=lambda *_: None) is None
    monkeypatch.setattr(judge_ckpt, "load_judge", lambda path=None: Judge(JudgeConfig()))
    ceiling = judge_ceiling(tok, 8, 0)
    assert set(ceiling) == {"renders", "reconstructions"}
    assert "background" in ceiling["reconstructions"]


def test_cli_commands_are_registered() -> None:
    from triptych.cli.main import cli

    runner = CliRunner()
    for name in ("bits-tokenizer", "pico-bits"):
        result = runner.invoke(cli, ["train", name, "--help"])
        assert result.exit_code == 0, result.output
        for flag in ("--steps", "--seed", "--out", "--tiny", "--no-resume", "--device"):
            assert flag in result.output


def test_cli_tiny_runs_write_checkpoints(tmp_path, monkeypatch) -> None:
    from triptych.cli.main import cli

    monkeypatch.setenv("TRIPTYCH_TORCH_THREADS", "1")
    threads = torch.get_num_threads()
    runner = CliRunner()
    tok, gpt = tmp_path / "bits-tokenizer.safetensors", tmp_path / "pico-bits.safetensors"
    try:
        result = runner.invoke(cli, ["train", "bits-tokenizer", "--tiny", "--out", str(tok),
                                     "--run-dir", str(tmp_path / "t"), "--json"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(cli, ["train", "pico-bits", "--tiny", "--out", str(gpt),
                                     "--run-dir", str(tmp_path / "g"), "--tokenizer", str(tok),
                                     "--json"])
        assert result.exit_code == 0, result.output
        refined = tmp_path / "refined.safetensors"
        result = runner.invoke(cli, ["train", "bits-tokenizer", "--tiny", "--steps", "2",
                                     "--decoder-from", str(tok), "--lr", "3e-4", "--out",
                                     str(refined), "--run-dir", str(tmp_path / "r"), "--json"])
        assert result.exit_code == 0, result.output
    finally:
        torch.set_num_threads(threads)
    assert load_bits_pipeline(gpt, tok)(["two cats"], [1]).shape == (1, 3, 64, 64)
    assert load_bits_pipeline(gpt, refined)(["two cats"], [1]).shape == (1, 3, 64, 64)
    assert "--lr 0.0003 --decoder-from" in refined.with_suffix(".md").read_text()


def test_max_minutes_fits_the_schedule_and_the_card_states_it(runs, tmp_path, monkeypatch) -> None:
    from triptych.training import loop

    monkeypatch.setattr(loop, "Timer", TickingTimer)
    out = tmp_path / "capped.safetensors"
    summary = train_pico_bits(tiny=True, steps=5000, max_minutes=0.1, seed=1, out=out,
                              run_dir=tmp_path / "run", tokenizer_path=runs["tok"], **quiet)
    assert 70 < summary["steps"] < 5000  # the fitted schedule ran to its end
    assert f"--steps {summary['steps']}" in out.with_suffix(".md").read_text()


def test_tokenizer_workers_render_the_same_stream_and_the_clock_fits_it(runs, tmp_path,
                                                                        monkeypatch) -> None:
    from triptych.training import loop

    again = tmp_path / "tok.safetensors"  # two render processes: the same batches, same weights
    train_bits_tokenizer(tiny=True, seed=1, out=again, run_dir=tmp_path / "tok", workers=2,
                         **quiet)
    a, b = load_file(str(runs["tok"])), load_file(str(again))
    assert all(torch.equal(a[k], b[k]) for k in a)

    monkeypatch.setattr(loop, "Timer", TickingTimer)
    out = tmp_path / "capped.safetensors"
    summary = train_bits_tokenizer(tiny=True, steps=5000, max_minutes=0.1, batch=2, seed=1,
                                   out=out, run_dir=tmp_path / "capped", **quiet)
    assert 70 < summary["steps"] < 5000  # the fitted schedule ran to its end
    card = out.with_suffix(".md").read_text()
    assert f"--steps {summary['steps']}" in card and "--batch 2" in card


def test_a_new_tokenizer_can_take_a_larger_architecture(runs, tmp_path) -> None:
    out = tmp_path / "wide.safetensors"
    summary = train_bits_tokenizer(tiny=True, size="medium-14", steps=2, out=out,
                                   run_dir=tmp_path / "wide", **quiet)
    tok = bt.load(out)
    assert summary["bits"] == tok.bits == 14 and tok.vocab_size == 2**14
    assert tok.cfg.ch_low == bt.TOKENIZER_CONFIGS["medium-14"].ch_low
    assert "--size medium-14" in out.with_suffix(".md").read_text()  # the card reproduces it
    with pytest.raises(ValueError, match="unknown tokenizer size"):
        train_bits_tokenizer(tiny=True, size="huge", out=out, run_dir=tmp_path / "x", **quiet)


def test_the_cli_offers_every_tokenizer_size() -> None:
    from triptych.cli.commands.train_bits import TOKENIZER_SIZES

    assert set(TOKENIZER_SIZES) == set(bt.TOKENIZER_CONFIGS) - {"tiny"}


def test_init_continues_a_trained_pico_bits(runs, tmp_path) -> None:
    start = load_bits(runs["gpt"])
    out = tmp_path / "more.safetensors"
    train_pico_bits(tiny=True, seed=2, steps=1, out=out, run_dir=tmp_path / "more",
                    tokenizer_path=runs["tok"], init=runs["gpt"], **quiet)
    more = load_bits(out)
    assert more.tokenizer.vocab == start.tokenizer.vocab  # its text encoder's word ids
    assert more.meta["train"]["init_steps"] == start.meta["train"]["steps"]  # for the report
    before, after = start.model.state_dict(), more.model.state_dict()
    assert before.keys() == after.keys()
    # one small step from the given weights, not a fresh initialisation
    drift = max((after[k].float() - before[k].float()).abs().max().item() for k in before)
    assert 0 < drift < 0.05


def test_init_refuses_a_pico_bits_of_another_token_space(runs, tmp_path) -> None:
    other = tmp_path / "other-tok.safetensors"
    train_bits_tokenizer(tiny=True, seed=5, out=other, run_dir=tmp_path / "other", **quiet)
    with pytest.raises(ValueError, match="another bits tokenizer"):
        train_pico_bits(tiny=True, steps=1, out=tmp_path / "x.safetensors",
                        run_dir=tmp_path / "x", tokenizer_path=other, init=runs["gpt"], **quiet)


def test_a_new_tokenizers_summary_names_the_token_space_of_its_file(tmp_path) -> None:
    out = tmp_path / "tok.safetensors"
    summary = train_bits_tokenizer(tiny=True, seed=4, out=out, run_dir=tmp_path / "t", **quiet)
    assert summary["fingerprint"] == bt.fingerprint(bt.load(out))  # as a GPT will record it
