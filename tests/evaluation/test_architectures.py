"""The architectures report (`triptych eval --all`): every available model on the same prompts
and seeds, one table, one sheet; unavailable models are listed with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from tests.support.eval_engines import eval_card as _card

from triptych.evaluation import architectures
from triptych.evaluation.runner import EvalOptions
from triptych.evaluation.tasks import generated_prompts
from triptych.nets.checkpoint import file_digest


def test_report_table_sheet_and_skips(tmp_path: Path, tiny_judge: Path) -> None:
    items = generated_prompts(per_task=1)
    cards = [_card("perfect"), _card("blank"),
             _card("ghost").model_copy(update={"engine": "nowhere:ghost"})]
    opts = EvalOptions(seeds=2, judge_path=str(tiny_judge), kid_real=20)
    data = architectures.run_architectures(items, opts, tmp_path, cards=cards)

    assert [r["model"] for r in data["models"]] == ["test-perfect", "test-blank"]
    assert "no engine installed" in data["skipped"]["test-ghost"]
    for row in data["models"]:
        assert 0.0 <= row["overall"] <= 1.0 and row["ms_per_image"] >= 0
        assert set(row["tasks"]) >= {"single_object", "text"}
    md = (tmp_path / "architectures.md").read_text()
    assert "| test-perfect |" in md and "| test-blank |" in md and "test-ghost" in md
    saved = json.loads((tmp_path / "architectures.json").read_text())
    assert saved["seeds"] == 2 and saved["judge_sha256"] == file_digest(tiny_judge)
    assert f"sha256 {file_digest(tiny_judge)}" in md  # scores name the judge that gave them
    sheet = Image.open(tmp_path / "sheet.png")
    rows = min(architectures.SHEET_PROMPTS, len(items))
    assert sheet.height == rows * (64 * 2 + 6) + 22  # a header row of model names


def test_cli_all(tmp_path: Path, tiny_judge: Path, monkeypatch) -> None:
    from triptych.cli.main import cli

    monkeypatch.setattr(architectures, "builtin_cards", lambda: [_card("blank")])
    out = tmp_path / "arch"
    result = CliRunner().invoke(cli, ["eval", "--all", "--per-task", "1", "--seeds", "1",
                                      "--kid-real", "10", "--judge", str(tiny_judge),
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"][0]["model"] == "test-blank"
    assert (out / "architectures.md").is_file()


@pytest.mark.parametrize("args", [["eval"], ["eval", "pico-turbo", "--all"],
                                  ["eval", "--all", "--agree-with", "pico-turbo"]])
def test_cli_all_argument_errors(args) -> None:
    from triptych.cli.main import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "all" in result.output.lower()


def test_markdown_marks_gpu_training_and_warm_starts() -> None:
    row = {"model": "m", "family": "f", "params": 2e6, "steps": 20, "ms_per_image": 10.0,
           "kid": 0.1, "overall": 0.5, "tasks": {"single_object": 1.0},
           "train_steps": 100, "train_minutes": 1.7, "init_steps": 50, "train_device": "cuda"}
    data = {"created": "now", "n_prompts": 1, "seeds": 1, "models": [row], "skipped": {},
            "sheet_columns": ["m"]}
    md = architectures.markdown(data)
    assert "100 steps, 2 min on a GPU (+50 warm-start steps)" in md
    cpu = architectures.markdown({**data, "models": [{**row, "train_device": "cpu"}]})
    assert "100 steps, 2 min (+50 warm-start steps)" in cpu
