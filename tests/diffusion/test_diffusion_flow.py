"""Flow-matching schedule and the Euler/CFG sampler, checked against exact oracles."""

from __future__ import annotations

import pytest
import torch

from triptych.diffusion.flow import FlowMatching, timesteps
from triptych.diffusion.sampler import sample_euler


@pytest.mark.parametrize("dist", ["logit_normal", "u_shaped", "uniform"])
def test_t_distributions_in_unit_interval(dist: str) -> None:
    t = FlowMatching(dist).sample_t(4096, torch.Generator().manual_seed(0))
    assert t.shape == (4096,)
    assert (t > 0).all() and (t < 1).all()


def test_u_shaped_puts_weight_at_the_ends() -> None:
    t = FlowMatching("u_shaped").sample_t(20000, torch.Generator().manual_seed(0))
    ends = ((t < 0.1) | (t > 0.9)).float().mean()
    middle = ((t > 0.4) & (t < 0.6)).float().mean()
    assert ends > middle


def test_unknown_distribution_raises() -> None:
    with pytest.raises(ValueError):
        FlowMatching("nope").sample_t(1)


def test_interpolation_target_and_x0_estimate() -> None:
    x0, noise = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
    fm = FlowMatching()
    assert torch.allclose(fm.interpolate(x0, noise, torch.zeros(2)), x0)
    assert torch.allclose(fm.interpolate(x0, noise, torch.ones(2)), noise)
    t = torch.tensor([0.3, 0.8])
    xt = fm.interpolate(x0, noise, t)
    assert torch.allclose(fm.predict_x0(xt, t, fm.target(x0, noise)), x0, atol=1e-6)


def test_timesteps_grid() -> None:
    g = timesteps(4)
    assert torch.allclose(g, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0]))
    shifted = timesteps(4, shift=3.0)
    assert shifted[0] == 1 and shifted[-1] == 0 and (shifted[1:-1] > g[1:-1]).all()


class _Oracle(torch.nn.Module):
    """Returns the exact straight-line velocity towards a fixed x0 (cond) or 0 (uncond)."""

    def __init__(self, x0: torch.Tensor) -> None:
        super().__init__()
        self.x0 = x0
        self.calls = 0

    def forward(self, x, t, ids=None, *, context=None):
        self.calls += 1
        ctx, _ = context
        v = (x - self.x0.repeat(x.shape[0] // self.x0.shape[0], 1, 1, 1)) / t.view(-1, 1, 1, 1)
        is_cond = ctx[:, 0, 0].view(-1, 1, 1, 1)  # 1 for cond rows, 0 for null rows
        return v * is_cond


def _ctx(b: int, value: float):
    return torch.full((b, 1, 1), value), torch.ones(b, 1, dtype=torch.bool)


def test_euler_recovers_x0_on_straight_paths() -> None:
    x0, noise = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
    oracle = _Oracle(x0)
    out = sample_euler(oracle, noise, _ctx(2, 1.0), steps=3)
    assert torch.allclose(out, x0, atol=1e-5)
    assert oracle.calls == 3  # no CFG pass without guidance


def test_cfg_runs_one_batch_and_combines() -> None:
    x0, noise = torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16)
    oracle = _Oracle(x0)
    previews = []
    # v = v_u + w (v_c - v_u) with v_u = 0: w = 1 would hit x0 exactly; w = 2 overshoots
    out = sample_euler(oracle, noise, _ctx(1, 1.0), steps=1, guidance=2.0,
                       null_context=_ctx(1, 0.0), on_step=lambda *a: previews.append(a))
    assert torch.allclose(out, noise - 2 * (noise - x0), atol=1e-5)
    assert oracle.calls == 1 and len(previews) == 1
    with pytest.raises(ValueError):
        sample_euler(oracle, noise, _ctx(1, 1.0), steps=1, guidance=3.0)


class _BatchLog(_Oracle):
    def __init__(self, x0: torch.Tensor) -> None:
        super().__init__(x0)
        self.batches: list[int] = []

    def forward(self, x, t, ids=None, *, context=None):
        self.batches.append(x.shape[0])
        return super().forward(x, t, ids, context=context)


def test_guidance_runs_only_inside_its_interval() -> None:
    x0, noise = torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16)
    oracle = _BatchLog(x0)
    # grid 1, .75, .5, .25: CFG (a batch of 2) only at t = .75 and .5
    out = sample_euler(oracle, noise, _ctx(1, 1.0), steps=4, guidance=2.0,
                       null_context=_ctx(1, 0.0), guidance_interval=(0.5, 0.8))
    assert oracle.batches == [1, 2, 2, 1]
    # by hand: unguided steps follow the oracle exactly, guided ones overshoot by w
    x = noise
    for t, t_next, w in ((1.0, 0.75, 1.0), (0.75, 0.5, 2.0), (0.5, 0.25, 2.0), (0.25, 0.0, 1.0)):
        x = x + (t_next - t) * w * (x - x0) / t
    assert torch.allclose(out, x, atol=1e-5)
    full = _BatchLog(x0)
    sample_euler(full, noise, _ctx(1, 1.0), steps=4, guidance=2.0, null_context=_ctx(1, 0.0))
    assert full.batches == [2, 2, 2, 2]
