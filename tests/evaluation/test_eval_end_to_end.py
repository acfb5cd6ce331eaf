"""`triptych eval` end to end, with test-only engines: a perfect generator (renders the ground
truth scene for each prompt) must score ~1.0 and a blank one must score low."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from triptych.evaluation.runner import EvalOptions, run_eval
from triptych.evaluation.tasks import generated_prompts, paraphrases_from_file, prompts_from_file
from triptych.judge.checkpoint import DEFAULT_PATH
from triptych.nets.checkpoint import file_digest


def test_report_shape_and_files(tmp_path: Path, tiny_judge: Path) -> None:
    items = generated_prompts(per_task=2)
    opts = EvalOptions(seeds=2, judge_path=str(tiny_judge), kid_real=40, kid_subset=10)
    report = run_eval("test-perfect", items, opts, out_dir=tmp_path / "out",
                      agree_with="test-blank")
    assert set(report["tasks"]) == {"single_object", "two_objects", "counting", "colors",
                                    "position", "attribute_binding", "background", "text"}
    assert 0 <= report["overall"] <= 1 and report["n_images"] == 2 * len(items)
    assert report["kid"]["n_fake"] == report["n_images"] and report["ms_per_image"]["mean"] >= 0
    assert 0 <= report["agreement"]["checks"] <= 1
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["overall"] == report["overall"] and len(saved["records"]) == report["n_images"]
    assert saved["judge_sha256"] == file_digest(tiny_judge)  # which judge weights scored it
    assert Image.open(tmp_path / "out" / "sheet.png").size[0] > 64


def test_prompt_and_paraphrase_files(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# comment\na red circle\n\ntwo cats on a blue background\n")
    items = prompts_from_file(prompts)
    assert [i.spec.task for i in items] == ["colors", "counting"]
    para = tmp_path / "para.txt"
    para.write_text("a pooch beside a kitty, pooch on the left\ta dog to the left of a cat\n")
    (item,) = paraphrases_from_file(para)
    assert item.prompt.startswith("a pooch") and item.spec.task == "position" and item.heldout
    bad = tmp_path / "bad.txt"
    bad.write_text("a red circle\na purple elephant\n")
    from triptych.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="bad.txt:2"):
        prompts_from_file(bad)


def test_cli_json_and_errors(tmp_path: Path, tiny_judge: Path) -> None:
    from triptych.cli.main import cli

    prompts = tmp_path / "p.txt"
    prompts.write_text("a dog\nthe word CAT in white on a black background\n")
    args = ["eval", "test-perfect", "--prompts", str(prompts), "--seeds", "1",
            "--judge", str(tiny_judge), "--kid-real", "20", "--out", str(tmp_path / "o"), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "overall" in data and "tasks" in data and "records" not in data
    unknown = CliRunner().invoke(cli, ["eval", "no-such-model", "--json"])
    assert unknown.exit_code == 1 and "no-such-model" in unknown.output
    missing = CliRunner().invoke(cli, args[:-1] + ["--judge", str(tmp_path / "gone.st"), "--json"])
    assert missing.exit_code == 1 and "gone.st" in missing.output


@pytest.mark.skipif(not DEFAULT_PATH.exists(), reason="shipped judge checkpoint not present")
def test_perfect_generator_scores_high_and_blank_low(tmp_path: Path) -> None:
    items = generated_prompts(per_task=6)
    opts = EvalOptions(seeds=2, kid_real=200, kid_subset=50)
    perfect = run_eval("test-perfect", items, opts)
    blank = run_eval("test-blank", items, opts)
    assert perfect["overall"] >= 0.95, perfect["tasks"]
    assert blank["overall"] <= 0.2, blank["tasks"]
    assert perfect["kid"]["mean"] < blank["kid"]["mean"]
    held = run_eval("test-perfect", generated_prompts(per_task=6, split="heldout"), opts)
    assert held["overall"] >= 0.95, held["tasks"]


def test_guidance_and_prompt_seed_reach_the_requests(tmp_path: Path, tiny_judge: Path) -> None:
    from tests.support import eval_engines

    from triptych.cli.main import cli

    eval_engines.SEEN_OPTIONS.clear()
    args = ["eval", "test-blank", "--per-task", "1", "--seeds", "1", "--guidance", "2.5",
            "--prompt-seed", "777", "--judge", str(tiny_judge), "--kid-real", "20",
            "--out", str(tmp_path / "o"), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["guidance"] == 2.5
    assert eval_engines.SEEN_OPTIONS and all(o == {"guidance": 2.5}
                                             for o in eval_engines.SEEN_OPTIONS)
    saved = json.loads((tmp_path / "o" / "report.json").read_text())
    tuning = {r["prompt"] for r in saved["records"]}
    assert tuning.isdisjoint({i.prompt for i in generated_prompts(per_task=1)})


def test_no_layout_check_reaches_the_requests(tmp_path: Path, tiny_judge: Path) -> None:
    from tests.support import eval_engines

    from triptych.cli.main import cli

    eval_engines.SEEN_OPTIONS.clear()
    args = ["eval", "test-blank", "--per-task", "1", "--seeds", "1", "--no-layout-check",
            "--judge", str(tiny_judge), "--kid-real", "20", "--out", str(tmp_path / "o"),
            "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["layout_check"] is False
    assert eval_engines.SEEN_OPTIONS and all(o == {"layout_check": False}
                                             for o in eval_engines.SEEN_OPTIONS)
