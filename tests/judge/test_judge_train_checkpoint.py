"""Judge network shapes, checkpoint round trip and errors, seeded/resumable tiny training
(``training/judge.py`` on the training loop; its bit-for-bit resume is checked with every other
trainer's in tests/training/test_training_loop.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from triptych.judge.checkpoint import JudgeCheckpointError, load_judge, load_judge_from, save_judge
from triptych.judge.labels import sample_batch
from triptych.judge.model import CONFIGS, Judge, to_input
from triptych.training import judge as judge_training
from triptych.training.judge import TINY, AutoencoderMissingError, TrainJudgeConfig, train_judge
from triptych.training.loop import read_run_state

quiet = {"use_ae": False, "log": lambda _m: None, "eval_ceiling": None}


def test_forward_shapes() -> None:
    model = Judge(CONFIGS["tiny"]).eval()
    images, tgt, _ = sample_batch(4, seed=0)
    out = model(to_input(images))
    assert out["slot_class"].shape == (4, 9, 29)
    assert out["slot_colour"].shape == (4, 9, 10)
    assert out["background"].shape == (4, 10) and out["word_colour"].shape == (4, 10)
    assert out["chars"].shape == (4, 32, 27)  # 2 px columns × (blank + 26 letters)
    assert tgt["columns"].shape == (4, 32)
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
    return replace(TINY, steps=steps, checkpoint_every=1)


def test_training_is_seeded_and_resumable(tmp_path: Path) -> None:
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
    assert "triptych train judge" in card and "## Metrics" in card and "state.json" in card
    # the loop's run state, not a state.pt; a resume with more --steps is a second phase
    assert read_run_state(tmp_path / "c")[1]["step"] == 4
    assert not list((tmp_path / "c").glob("*.pt"))
    assert [p["from_step"] for p in info["history"]] == [0, 2]
    assert "# phase 2: steps 2-4" in (tmp_path / "c.md").read_text()
    assert json.loads((tmp_path / "c" / "final_metrics.json").read_text())["steps"] == 4
    logged = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in logged if "eval" in r] == [4]


class _RoundTrip:
    """A stand-in autoencoder: a fixed blur, so reconstructions differ from renders."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 2)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(z, scale_factor=2)


def test_a_missing_autoencoder_stops_the_run_resumably(tmp_path: Path, monkeypatch) -> None:
    cfg = replace(TINY, ae_from_step=2, ae_prob=0.5)
    kwargs = {**quiet, "use_ae": True}
    monkeypatch.setattr(judge_training, "load_autoencoder", lambda _log: _RoundTrip())
    train_judge(cfg, tmp_path / "straight", tmp_path / "straight.safetensors", **kwargs)
    monkeypatch.setattr(judge_training, "load_autoencoder", lambda _log: None)
    with pytest.raises(AutoencoderMissingError, match="Step 2 needs autoencoder"):
        train_judge(cfg, tmp_path / "run", tmp_path / "run.safetensors", **kwargs)
    assert read_run_state(tmp_path / "run")[1]["step"] == 2
    assert not (tmp_path / "run.safetensors").exists()
    monkeypatch.setattr(judge_training, "load_autoencoder", lambda _log: _RoundTrip())
    info = train_judge(cfg, tmp_path / "run", tmp_path / "run.safetensors", **kwargs)
    assert info["steps"] == 4 and info["autoencoder"]
    a, b = (load_judge_from(tmp_path / f"{n}.safetensors").state_dict() for n in ("straight",
                                                                                 "run"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_judge_cli(tmp_path: Path) -> None:
    from triptych.cli.main import cli

    out = tmp_path / "judge.safetensors"
    result = CliRunner().invoke(cli, [
        "train", "judge", "--size", "tiny", "--steps", "2", "--batch", "8", "--eval-n", "16",
        "--no-ae", "--run-dir", str(tmp_path / "run"), "--out", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the progress bar is on stderr
    assert data["steps"] == 2 and out.exists() and out.with_suffix(".md").exists()


def test_train_judge_cli_refuses_an_old_run_state(tmp_path: Path) -> None:
    from triptych.cli.main import cli

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "state.pt").write_bytes(b"old")
    args = ["train", "judge", "--size", "tiny", "--steps", "2", "--batch", "8", "--eval-n", "16",
            "--no-ae", "--run-dir", str(tmp_path / "run"), "--out",
            str(tmp_path / "judge.safetensors")]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "--no-resume" in refused.output, refused.output
    assert CliRunner().invoke(cli, [*args, "--no-resume"]).exit_code == 0


def test_text_only_stage_freezes_every_other_reading(tmp_path: Path) -> None:
    train_judge(_tiny(3), tmp_path / "s1", tmp_path / "s1.safetensors", **quiet)
    stage2 = replace(TINY, steps=3, warmup=1, checkpoint_every=1, lr=0.05,
                     init=str(tmp_path / "s1.safetensors"), train_only="text", text_share=0.9)
    info = train_judge(stage2, tmp_path / "s2", tmp_path / "s2.safetensors", **quiet)
    before = load_judge_from(tmp_path / "s1.safetensors")
    after = load_judge_from(tmp_path / "s2.safetensors")
    x = to_input(sample_batch(6, seed=3)[0])
    with torch.no_grad():
        a, b = before(x), after(x)
    for key in ("slot_class", "slot_colour", "background", "word_colour"):
        assert torch.equal(a[key], b[key]), key  # weights and BatchNorm statistics untouched
    assert not torch.equal(a["chars"], b["chars"])  # the text head did train
    assert info["prior"]["steps"] == 3 and not info["prior"]["text_head_reset"]
    card = (tmp_path / "s2.md").read_text()
    assert "# stage 1" in card and "--train-only text" in card and "--text-share 0.9" in card
    assert "Stage 2, the text line head alone" in card


def test_text_only_stage_needs_a_trained_judge(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="init"):
        train_judge(TrainJudgeConfig(size="tiny", steps=1, train_only="text"), tmp_path / "r",
                    tmp_path / "j.safetensors", **quiet)
    from triptych.cli.main import cli

    result = CliRunner().invoke(cli, ["train", "judge", "--size", "tiny", "--train-only", "text",
                                      "--run-dir", str(tmp_path / "run")])
    assert result.exit_code != 0 and "--init" in result.output


def test_text_share_reweights_only_the_word_layouts() -> None:
    from triptych.judge.labels import JUDGE_KINDS, judge_kinds

    assert judge_kinds(JUDGE_KINDS["text"]) is JUDGE_KINDS  # the default stream is unchanged
    kinds = judge_kinds(0.7)
    assert kinds["text"] == 0.7 and abs(sum(kinds.values()) - 1.0) < 1e-9
    ratio = JUDGE_KINDS["pair"] / JUDGE_KINDS["count"]
    assert kinds["pair"] / kinds["count"] == pytest.approx(ratio)


def test_random_words_are_letters_that_fit_and_leave_the_default_stream_alone() -> None:
    import random

    from triptych.judge.labels import judge_scene, random_word_scene
    from triptych.world.render import text_width
    from triptych.world.sampling import TEXT_MAX_WIDTH
    from triptych.world.vocab import LETTERS, WORDS

    rng = random.Random(4)
    scenes = [random_word_scene(rng) for _ in range(200)]
    assert all(2 <= len(s.word) <= 6 and set(s.word) <= set(LETTERS) for s in scenes)
    assert all(text_width(s.word, s.text_size) <= TEXT_MAX_WIDTH or s.text_size == 12
               for s in scenes)
    assert sum(s.word not in WORDS for s in scenes) > 150  # mostly outside the word list
    rng = random.Random(9)
    listed = [judge_scene(rng) for _ in range(300)]  # the default: stage 1's stream
    assert any(s.word for s in listed) and all(s.word in WORDS for s in listed if s.word)
    mixed = sample_batch(256, seed=5, text_share=1.0, random_words=1.0)[2]
    assert any(s.word and s.word not in WORDS for s in mixed)


def test_train_judge_cli_runs_a_text_stage(tmp_path: Path) -> None:
    from triptych.cli.main import cli

    base = ["train", "judge", "--size", "tiny", "--batch", "8", "--eval-n", "16", "--no-ae",
            "--json"]
    first = tmp_path / "s1.safetensors"
    assert CliRunner().invoke(cli, [*base, "--steps", "2", "--run-dir", str(tmp_path / "r1"),
                                    "--out", str(first)]).exit_code == 0
    second = tmp_path / "s2.safetensors"
    result = CliRunner().invoke(cli, [*base, "--steps", "2", "--run-dir", str(tmp_path / "r2"),
                                      "--out", str(second), "--init", str(first),
                                      "--train-only", "text", "--text-share", "0.8",
                                      "--random-words", "0.5"])
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)["config"]
    assert (config["train_only"], config["text_share"], config["random_words"]) == \
        ("text", 0.8, 0.5)
    assert "--random-words 0.5" in second.with_suffix(".md").read_text()
