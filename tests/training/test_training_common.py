"""ClockFit: the schedule fitted to a wall-clock budget, shared by the transformer trainers."""

from __future__ import annotations

import torch

from triptych.training.common import ClockFit, RunState


class ManualTimer:
    def __init__(self) -> None:
        self.total = 0.0


def _run(fit: ClockFit, state: RunState, timer: ManualTimer, total: int,
         seconds_per_step: float) -> tuple[int, int]:
    """Drive ``fit`` like a training loop; returns (planned total, steps run)."""
    while state.step < total:
        total, stop = fit.check(total)
        if stop:
            break
        timer.total += seconds_per_step
        state.step += 1
    return total, state.step


def test_no_budget_changes_nothing() -> None:
    state, timer = RunState(), ManualTimer()
    fit = ClockFit(None, state, timer, log=lambda _: None)
    assert _run(fit, state, timer, 300, 1.0) == (300, 300)
    assert "total_steps" not in state.extra


def test_schedule_is_fitted_to_the_budget_and_kept_for_a_resume() -> None:
    state, timer = RunState(), ManualTimer()
    fit = ClockFit(1.0, state, timer, log=lambda _: None)  # 60 s at 0.1 s/step: ~600 steps
    total, ran = _run(fit, state, timer, 100_000, 0.1)
    assert 500 < total < 600 and ran == total  # 95 % of what fits, and the run ends there
    assert state.extra["total_steps"] == total
    resumed = ClockFit(1.0, state, timer, log=lambda _: None)
    assert resumed.planned(100_000) == total


def test_a_slower_run_stops_at_the_cap() -> None:
    state, timer = RunState(), ManualTimer()
    fit = ClockFit(1.0, state, timer, log=lambda _: None)
    # fast while measuring, then ten times slower: the hard stop ends it near 60 s
    total = 100_000
    while state.step < total:
        total, stop = fit.check(total)
        if stop:
            break
        timer.total += 0.1 if state.step < 80 else 1.0
        state.step += 1
    assert state.step < total and 59.0 <= timer.total <= 61.0


def test_a_short_run_keeps_its_own_total() -> None:
    state, timer = RunState(), ManualTimer()
    fit = ClockFit(10.0, state, timer, log=lambda _: None)
    assert _run(fit, state, timer, 200, 0.1) == (200, 200)


def test_cpu_copy_keeps_a_cpu_model_and_never_moves_the_original() -> None:
    import torch

    from triptych.training.common import cpu_copy

    net = torch.nn.Linear(2, 2)
    assert cpu_copy(net) is net  # no copy needed on the CPU
    if torch.cuda.is_available():
        gpu = torch.nn.Linear(2, 2).cuda()
        copy = cpu_copy(gpu)
        assert next(copy.parameters()).device.type == "cpu"
        assert next(gpu.parameters()).device.type == "cuda"


def test_with_overrides_and_command_flags() -> None:
    from dataclasses import dataclass

    from triptych.training.common import command_flags, with_overrides

    @dataclass(frozen=True)
    class Recipe:
        steps: int = 10
        batch: int = 64
        pairs: int = 100

    cfg = with_overrides(Recipe(), {"batch": 256}, steps=None, pairs=7)
    assert cfg == Recipe(steps=10, batch=256, pairs=7)  # None leaves the recipe's value
    flags = {"batch": "--batch", "pairs": "--pairs"}
    assert command_flags(cfg, Recipe(), flags, "cuda:0") == " --batch 256 --pairs 7 --device cuda"
    assert command_flags(Recipe(), Recipe(), flags) == ""


def test_to_device_leaves_cpu_tensors_alone_and_adamw_is_plain_on_the_cpu() -> None:
    from triptych.training.common import adamw, to_device

    a, b = torch.arange(3), torch.ones(2)
    assert all(x is y for x, y in zip(to_device(torch.device("cpu"), a, b), (a, b),
                                      strict=True))
    opt = adamw(torch.nn.Linear(2, 2).parameters(), torch.device("cpu"), lr=1e-3)
    assert not opt.defaults.get("fused")


def test_ema_update_matches_the_per_tensor_lerp() -> None:
    from triptych.training.common import EMA

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ema = EMA(model, decay=0.9)
    before = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    ema.update(model, step=10**6)
    for e, b, p in zip(ema.model.parameters(), before, model.parameters(), strict=True):
        assert torch.allclose(e, b + 0.1 * (p - b), atol=1e-6)


def test_threads_come_from_settings_with_one_default(monkeypatch) -> None:
    from triptych.settings import Settings
    from triptych.training.common import set_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("TRIPTYCH_TORCH_THREADS", raising=False)
        assert set_threads() == Settings().torch_threads == 1 == torch.get_num_threads()
        monkeypatch.setenv("TRIPTYCH_TORCH_THREADS", "3")
        assert set_threads() == 3 == torch.get_num_threads()
        assert set_threads(2) == 2  # a trainer's --threads wins
    finally:
        torch.set_num_threads(before)
