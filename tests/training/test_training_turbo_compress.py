"""Compressing a few-step pico-turbo into a cheaper student: the student's architecture and
inherited weights, the loss, determinism and resume, the CLI's flags and refusals."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from tests.support.training import quiet

from triptych.diffusion.flow import timesteps
from triptych.nets.pico import PicoModel, load_pico
from triptych.nets.unet import UNET_CONFIGS, AttnBlock
from triptych.training.turbo_compress import compress_loss, compress_turbo, student_from


def test_the_student_inherits_every_weight_it_keeps() -> None:
    torch.manual_seed(0)
    teacher = PicoModel(UNET_CONFIGS["tiny"])
    student = student_from(teacher, None, (1,), ("cross", "mlp"))
    kept = student.state_dict()
    for name, value in teacher.state_dict().items():
        if name in kept:
            assert torch.equal(kept[name], value), name
    lite = [b for b in student.unet.modules()
            if isinstance(b, AttnBlock) and b is not student.unet.mid_attn]
    assert lite and all(b.parts == ("cross", "mlp") for b in lite)
    assert sum(p.numel() for p in student.parameters()) < sum(
        p.numel() for p in teacher.parameters())


@pytest.mark.parametrize(("attention", "lite", "parts", "match"), [
    ((0,), (), ("cross",), "attention at levels 1 only"),
    ((), (1,), ("cross",), "levels the student keeps"),
    (None, (1,), ("conv",), "subset of self,cross,mlp"),
])
def test_a_student_the_teacher_cannot_seed_is_refused(attention, lite, parts, match) -> None:
    with pytest.raises(ValueError, match=match):
        student_from(PicoModel(UNET_CONFIGS["tiny"]), attention, lite, parts)


def test_the_loss_is_zero_for_an_identical_student_and_not_for_a_lean_one() -> None:
    torch.manual_seed(0)
    teacher = PicoModel(UNET_CONFIGS["tiny"]).eval()
    for p in teacher.parameters():  # away from the zero-initialised output layers
        p.data.add_(0.05 * torch.randn_like(p))
    ids = torch.randint(3, 20, (2, 24))
    noise = torch.randn(2, 4, 16, 16)
    same = student_from(teacher, None, (), ("cross",))
    assert compress_loss(same, teacher, ids, noise, timesteps(4)).item() < 1e-10
    lean = student_from(teacher, (), (), ("cross",))
    loss = compress_loss(lean, teacher, ids, noise, timesteps(2))
    assert loss.item() > 1e-6 and loss.requires_grad


def test_compress_writes_a_lean_checkpoint_and_card_deterministically(tiny_runs, tmp_path) -> None:
    outs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.safetensors"
        summary = compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, seed=3, out=out,
                                 run_dir=tmp_path / run, lite=(1,), **quiet)
        outs.append(load_pico(out))
    assert summary["steps"] == 4 and summary["params"] < summary["teacher_params"]
    a, b = outs
    assert a.model.cfg.lite_levels == (1,) and a.sampling.guidance is None
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items(),
                                 strict=True):
        assert torch.equal(x, y), name
    card = (tmp_path / "a.md").read_text()
    assert "--compress-from" in card and "--student-lite 1 --student-lite-parts cross" in card


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tiny_runs, tmp_path) -> None:
    whole = tmp_path / "whole.safetensors"
    compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, seed=3, out=whole,
                   run_dir=tmp_path / "whole", **quiet)
    part = tmp_path / "part.safetensors"
    compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, seed=3, steps=2, out=part,
                   run_dir=tmp_path / "part", **quiet)
    compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, seed=3, steps=4, out=part,
                   run_dir=tmp_path / "part", **quiet)
    x, y = load_pico(whole).model.state_dict(), load_pico(part).model.state_dict()
    assert all(torch.equal(x[k], y[k]) for k in x)


def test_a_cfg_model_is_not_a_compress_teacher(tiny_runs, tmp_path) -> None:
    with pytest.raises(ValueError, match="CFG"):
        compress_turbo(teacher_path=tiny_runs["pd"], tiny=True, out=tmp_path / "x.safetensors",
                       run_dir=tmp_path / "x", **quiet)


def test_the_cli_compresses_and_refuses_flags_that_do_not_apply(tiny_runs, tmp_path,
                                                                 monkeypatch) -> None:
    from triptych.cli.commands import train_models  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train

    monkeypatch.setenv("TRIPTYCH_TORCH_THREADS", "1")
    out = tmp_path / "cli.safetensors"
    ok = CliRunner().invoke(train, [
        "pico-turbo", "--tiny", "--compress-from", str(tiny_runs["pt"]), "--student-lite", "1",
        "--student-lite-parts", "cross,mlp", "--out", str(out), "--run-dir",
        str(tmp_path / "run"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert load_pico(out).model.cfg.lite_parts == ("cross", "mlp")
    no_gpu = [] if torch.cuda.is_available() else [(["--device", "cuda"], "not available")]
    for extra, said in (*no_gpu, (["--pairs", "8"], "--pairs"),
                        (["--student-lite-parts", "conv"], "self, cross, mlp")):
        bad = CliRunner().invoke(train, ["pico-turbo", "--tiny", "--compress-from",
                                         str(tiny_runs["pt"]), "--run-dir",
                                         str(tmp_path / "bad"), *extra])
        assert bad.exit_code == 2 and said in bad.output, bad.output
    lite_alone = CliRunner().invoke(train, ["pico-turbo", "--tiny", "--student-lite", "1"])
    assert lite_alone.exit_code == 2 and "need --compress-from" in lite_alone.output


def test_the_deep_cache_loss_trains_the_student_as_it_samples() -> None:
    from triptych.training.turbo_compress import cached_loss

    torch.manual_seed(0)
    teacher = PicoModel(UNET_CONFIGS["tiny"]).eval()
    for p in teacher.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    ids, noise = torch.randint(3, 20, (2, 24)), torch.randn(2, 4, 16, 16)
    same = student_from(teacher, None, (), ("cross",))
    assert cached_loss(same, teacher, ids, noise, timesteps(4), 0).item() < 1e-10
    loss = cached_loss(same, teacher, ids, noise, timesteps(4), 1)  # reused steps are not exact
    assert loss.item() > 1e-8
    loss.backward()
    assert same.unet.mid_attn.qkv.weight.grad.abs().sum() > 0


def test_a_deep_cache_student_keeps_its_sampling_setting(tiny_runs, tmp_path) -> None:
    out = tmp_path / "dc.safetensors"
    compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, seed=3, out=out,
                   run_dir=tmp_path / "dc", reuse_deep=1, **quiet)
    assert load_pico(out).sampling.reuse_deep == 1
    assert "--student-reuse-deep 1" in out.with_suffix(".md").read_text()


def _jittered_tiny_teacher() -> PicoModel:
    torch.manual_seed(0)
    teacher = PicoModel(UNET_CONFIGS["tiny"]).eval()
    for p in teacher.parameters():  # away from the zero-initialised output layers
        p.data.add_(0.05 * torch.randn_like(p))
    return teacher


def test_the_halving_loss_targets_the_teachers_average_velocity() -> None:
    from triptych.training.turbo_compress import halving_loss, trajectory

    teacher = _jittered_tiny_teacher()
    ids, noise, grid = torch.randint(3, 20, (2, 24)), torch.randn(2, 4, 16, 16), timesteps(4)
    same = student_from(teacher, None, (), ("cross",))
    # one student step per teacher step: plain velocity matching, exact for the teacher itself
    assert halving_loss(same, teacher, ids, noise, grid, 4).item() < 1e-10
    # one step for four: the target is the straight line from the noise to where the
    # teacher's 4 steps land
    with torch.no_grad():
        _, _, end = trajectory(teacher, noise, teacher.encode_text(ids), grid)
        expected = (same(noise, torch.ones(2), ids) - (end - noise) / -1.0).pow(2).mean()
    loss = halving_loss(same, teacher, ids, noise, grid, 1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5) and loss.item() > 1e-8
    loss = halving_loss(same, teacher, ids, noise, grid, 2)
    loss.backward()
    assert loss.item() > 1e-8 and same.unet.mid_attn.qkv.weight.grad.abs().sum() > 0
    # the end-of-trajectory term: the student's 2 steps against where the teacher's 4 land
    with torch.no_grad():
        _, _, two = trajectory(same, noise, same.encode_text(ids), timesteps(2))
        gap = (two - end).pow(2).mean().item()
    with_end = halving_loss(same, teacher, ids, noise, grid, 2, endpoint=3.0)
    assert with_end.item() == pytest.approx(loss.item() + 3.0 * gap, rel=1e-4)


def test_a_halved_student_samples_with_its_own_step_count(tiny_runs, tmp_path) -> None:
    from triptych.cli.commands import train_models  # noqa: F401  (attaches the commands)
    from triptych.cli.commands.train import train

    out = tmp_path / "two.safetensors"
    compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, seed=3, out=out,
                   run_dir=tmp_path / "two", student_steps=2, **quiet)
    assert load_pico(out).sampling.steps == 2
    card = out.with_suffix(".md").read_text()
    assert "--student-steps 2" in card and "progressive distillation" in card
    with pytest.raises(ValueError, match="--student-steps"):
        compress_turbo(teacher_path=tiny_runs["pt"], tiny=True, out=tmp_path / "x.safetensors",
                       run_dir=tmp_path / "x", student_steps=2, reuse_deep=1, **quiet)
    result = CliRunner().invoke(train, ["pico-turbo", "--tiny", "--student-steps", "2"])
    assert result.exit_code != 0 and "need --compress-from" in result.output
