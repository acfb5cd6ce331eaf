"""Judge network shapes, checkpoint round trip and errors, seeded/resumable tiny training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from triptych.judge.checkpoint import JudgeCheckpointError, load_judge, load_judge_from, save_judge
from triptych.judge.labels import sample_batch
from triptych.judge.model import CONFIGS, Judge, to_input
from triptych.judge.train import TrainJudgeConfig, train_judge


def test_forward_shapes() -> None:
    model = Judge(CONFIGS["tiny"]).eval()
    images, tgt, _ = sample_batch(4, seed=0)
    out = model(to_input(images))
    assert out["slot_class"].shape == (4, 9, 29)
    assert out["slot_colour"].shape == (4, 9, 10)
    assert out["background"].shape == (4, 10) and out["word_colour"].shape == (4, 10)
    assert out["chars"].shape == (4, 16, 27)  # columns × (blank + 26 letters)
    assert model.embed(to_input(images)).shape == (4, 16 * 10)
    assert tgt["slot_class"].shape == (4, 9) and tgt["chars"].shape == (4, 6)


def test_small_config_is_a_few_mb() -> None:
    assert Judge(CONFIGS["small"]).num_params() * 2 < 4e6  # stored as fp16


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = Judge(CONFIGS["tiny"]).eval()
    path = save_judge(model, tmp_path / "judge.safetensors", extra={"note": "test"})
    loaded = load_judge_from(path)
    x = to_input(sample_batch(3, seed=1)[0])
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=2e-2, rtol=2e-2)  # fp16 storage
    assert load_judge(path) is load_judge(path)  # cached


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(JudgeCheckpointError, match="nope.safetensors"):
        load_judge_from(missing)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(JudgeCheckpointError, match="corrupt.safetensors"):
        load_judge_from(corrupt)


def _tiny(steps: int) -> TrainJudgeConfig:
    return TrainJudgeConfig(size="tiny", steps=steps, batch=8, warmup=2, eval_n=16,
                            eval_every=100, ckpt_every=1)


def test_training_is_seeded_and_resumable(tmp_path: Path) -> None:
    quiet = {"use_ae": False, "progress": False, "log": lambda _m: None, "eval_ceiling": False}
    train_judge(_tiny(4), tmp_path / "a", tmp_path / "a.safetensors", **quiet)
    train_judge(_tiny(4), tmp_path / "b", tmp_path / "b.safetensors", **quiet)
    train_judge(_tiny(2), tmp_path / "c", tmp_path / "c.safetensors", **quiet)
    info = train_judge(_tiny(4), tmp_path / "c", tmp_path / "c.safetensors", **quiet)
    assert info["steps"] == 4
    weights = [load_judge_from(tmp_path / f"{n}.safetensors").state_dict() for n in "abc"]
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
        assert torch.equal(weights[0][key], weights[2][key]), key
    card = (tmp_path / "a.md").read_text()
    assert "triptych train judge" in card and "## Metrics" in card


def test_train_judge_cli(tmp_path: Path) -> None:
    from triptych.cli.main import cli

    out = tmp_path / "judge.safetensors"
    result = CliRunner().invoke(cli, [
        "train", "judge", "--size", "tiny", "--steps", "2", "--batch", "8", "--eval-n", "16",
        "--no-ae", "--run-dir", str(tmp_path / "run"), "--out", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["steps"] == 2 and out.exists() and out.with_suffix(".md").exists()
