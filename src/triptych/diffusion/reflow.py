"""Reflow distillation (2-rectified flow, Liu et al. arXiv 2209.03003) with guidance baked in.

1. ``teacher_pairs``: the frozen teacher maps noise z to a clean latent x0 = ODE(z | prompt)
   with classifier-free guidance (Meng et al. arXiv 2210.03142: the student learns the guided
   flow, so it samples with no unconditional pass).
2. ``reflow_loss``: the student regresses the *straight* velocity v = z - x0 at
   x_t = (1-t) x0 + t z. Straight teacher couplings make few Euler steps accurate.
"""

from __future__ import annotations

import torch

from triptych.diffusion.flow import FlowMatching
from triptych.diffusion.pipeline import PicoPipeline


@torch.inference_mode()
def teacher_pairs(
    pipeline: PicoPipeline, prompts: list[str], noise: torch.Tensor, *, steps: int,
    guidance: float,
) -> torch.Tensor:
    """Noise [B,4,16,16] + prompts -> the teacher's clean latents x0 [B,4,16,16]."""
    return pipeline.latents(prompts, noise, steps=steps, guidance=guidance)


def reflow_loss(
    student: torch.nn.Module,
    flow: FlowMatching,
    x0: torch.Tensor,
    noise: torch.Tensor,
    ids: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    t: torch.Tensor | None = None,
) -> torch.Tensor:
    """MSE between the student's velocity and z - x0 on the teacher's (z, x0) coupling; ``t``
    [B] drawn from ``flow`` with ``generator`` unless given (already on the batch's device)."""
    if t is None:
        t = flow.sample_t(x0.shape[0], generator)
    return flow.loss(lambda xt, tt: student(xt, tt, ids), x0, noise, t)
