"""Flow matching (rectified flow) on the straight line between data and noise.

    x_t = (1 - t) * x0 + t * noise,   t in [0, 1]  (t = 1 is pure noise)
    v   = noise - x0                  (the velocity the network predicts)
    x0  = x_t - t * v                 (clean estimate, used for previews)

Training samples t from a logit-normal (SD3: most weight on mid t, where the task is hardest)
or, for one-/few-step reflow students, a U-shaped distribution with weight near t = 0 and 1
(Lee et al., arXiv 2405.20320). The network never sees this module; it only predicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FlowMatching:
    t_dist: str = "logit_normal"  # "logit_normal" | "u_shaped" | "uniform"
    logit_mean: float = 0.0  # SD3 defaults: m = 0, s = 1
    logit_std: float = 1.0
    u_shape_a: float = 4.0  # U-shaped density ~ cosh(a (t - 0.5)), Lee et al.

    def sample_t(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.t_dist == "logit_normal":
            z = torch.randn(n, generator=generator) * self.logit_std + self.logit_mean
            return torch.sigmoid(z)
        if self.t_dist == "u_shaped":
            # inverse-CDF of p(t) ~ cosh(a (t - 1/2)) on [0, 1]
            u = torch.rand(n, generator=generator)
            a = self.u_shape_a
            s = torch.sinh(torch.tensor(a / 2))
            return 0.5 + torch.asinh((2 * u - 1) * s) / a
        if self.t_dist == "uniform":
            return torch.rand(n, generator=generator)
        raise ValueError(f"unknown t distribution {self.t_dist!r}")

    @staticmethod
    def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.view(-1, *([1] * (x0.dim() - 1)))
        return (1 - t) * x0 + t * noise  # [B, C, H, W]

    @staticmethod
    def target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return noise - x0

    @staticmethod
    def predict_x0(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return x_t - t.view(-1, *([1] * (x_t.dim() - 1))) * v

    def loss(
        self,
        model_fn,
        x0: torch.Tensor,
        noise: torch.Tensor,
        t: torch.Tensor,
    ) -> torch.Tensor:
        """MSE between predicted and true velocity; ``model_fn(x_t, t) -> v``."""
        x_t = self.interpolate(x0, noise, t)
        return (model_fn(x_t, t) - self.target(x0, noise)).pow(2).mean()


def timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """Decreasing grid 1 -> 0 with ``steps + 1`` points; ``shift > 1`` spends more steps at
    high noise (SD3's time shift), useful for few-step sampling."""
    t = torch.linspace(1.0, 0.0, steps + 1)
    return shift * t / (1 + (shift - 1) * t)
