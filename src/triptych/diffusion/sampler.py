"""Euler ODE sampler for flow-matching models, with classifier-free guidance and previews.

One explicit loop (diffusers style). CFG runs the conditional and unconditional inputs in one
batch of 2B and combines ``v = v_u + w (v_c - v_u)``; ``guidance=None`` (or 1) skips the
unconditional half entirely, which is how the distilled pico-turbo samples. An optional
``layout`` hook (``layout_check.LayoutCheck``) runs once, at the first step with t <= ``layout_t``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from triptych.diffusion.flow import FlowMatching, timesteps
from triptych.diffusion.layout_check import CHECK_T

# on_step(step_index, total_steps, t_next, x0_estimate [B,4,16,16])
StepCallback = Callable[[int, int, float, torch.Tensor], None]
# layout(x, t, v_cond, v) -> (x, v): may rewrite the state before the step is taken
LayoutHook = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                      tuple[torch.Tensor, torch.Tensor]]


def reuse_plan(steps: int, reuse_deep: int, tail: int = 0) -> list[bool]:
    """Which steps reuse the last full step's deep feature: after each full step, the next
    ``reuse_deep`` do, and so do the last ``tail`` steps (the first step is always full).
    Runs of 1-2 steps are always full: their steps are too far apart in t for one step's deep
    feature to stand for the next's."""
    if steps < 3:
        return [False] * steps
    plan = [reuse_deep > 0 and i % (reuse_deep + 1) != 0 for i in range(steps)]
    for i in range(max(1, steps - tail), steps):
        plan[i] = True
    return plan


@torch.no_grad()
def sample_euler(
    model: torch.nn.Module,
    noise: torch.Tensor,
    context: tuple[torch.Tensor, torch.Tensor],
    *,
    steps: int,
    guidance: float | None = None,
    null_context: tuple[torch.Tensor, torch.Tensor] | None = None,
    shift: float = 1.0,
    on_step: StepCallback | None = None,
    layout: LayoutHook | None = None,
    layout_t: float = CHECK_T,
    reuse_deep: int = 0,
    reuse_tail: int = 0,
    guidance_interval: tuple[float, float] = (0.0, 1.0),
) -> torch.Tensor:
    """Integrate from t=1 (``noise`` [B,4,16,16]) to t=0; returns clean latents [B,4,16,16].

    ``context`` and ``null_context`` come from ``model.encode_text`` ([B,L,D], [B,L]).
    ``reuse_deep`` > 0 (no CFG only): the steps ``reuse_plan`` marks call
    ``model.shallow(x, t, deep, context=...)`` with the deep feature of the last full step;
    the full steps call ``model.keep``, which also returns that feature. ``reuse_tail`` > 0
    (no CFG only): the last steps do the same (``reuse_plan``'s ``tail``).
    ``guidance_interval`` (lo, hi): CFG runs only at the steps with lo <= t <= hi; the others
    take the conditional velocity alone (one pass of B instead of 2B).
    """
    use_cfg = guidance is not None and guidance != 1.0
    if use_cfg and null_context is None:
        raise ValueError("classifier-free guidance needs null_context")
    b = noise.shape[0]
    if use_cfg:
        ctx = torch.cat([context[0], null_context[0]]), torch.cat([context[1], null_context[1]])
    else:
        ctx = context
    grid = timesteps(steps, shift)  # on the CPU: reading t_next below costs no device sync
    on_device = grid.to(noise.device)
    plan = reuse_plan(steps, *((0, 0) if use_cfg else (reuse_deep, reuse_tail)))
    deep = None
    x = noise
    lo, hi = guidance_interval
    for i in range(steps):
        t, t_next = on_device[i], on_device[i + 1]
        if use_cfg and lo - 1e-6 <= float(grid[i]) <= hi + 1e-6:
            v_c, v_u = model(torch.cat([x, x]), t.expand(2 * b), context=ctx).chunk(2)
            v = v_u + guidance * (v_c - v_u)  # [B, 4, 16, 16]
        elif use_cfg:  # a step outside the guidance interval
            v = v_c = model(x, t.expand(b), context=context)
        elif plan[i] and deep is not None:
            v = v_c = model.shallow(x, t.expand(b), deep, context=ctx)
        elif any(plan):
            v, deep = model.keep(x, t.expand(b), context=ctx)
            v_c = v
        else:
            v = v_c = model(x, t.expand(b), context=ctx)
        if layout is not None and float(grid[i]) <= layout_t + 1e-6:
            before = x
            x, v = layout(x, t, v_c, v)
            layout = None  # once per sampling run
            if deep is not None and not torch.equal(x, before):
                deep = None  # a mirrored or transposed latent: the next step runs in full
        if on_step is not None:
            on_step(i, steps, float(grid[i + 1]), FlowMatching.predict_x0(x, t.expand(b), v))
        x = x + (t_next - t) * v  # Euler step; t decreases so this moves toward data
    return x
