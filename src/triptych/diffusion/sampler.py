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
    alive: list[bool] | None = None,
) -> torch.Tensor:
    """Integrate from t=1 (``noise`` [B,4,16,16]) to t=0; returns clean latents [B,4,16,16].

    ``context`` and ``null_context`` come from ``model.encode_text`` ([B,L,D], [B,L]).
    ``reuse_deep`` > 0 (no CFG only): the steps ``reuse_plan`` marks call
    ``model.shallow(x, t, deep, context=...)`` with the deep feature of the last full step;
    the full steps call ``model.keep``, which also returns that feature. ``reuse_tail`` > 0
    (no CFG only): the last steps do the same (``reuse_plan``'s ``tail``).
    ``guidance_interval`` (lo, hi): CFG runs only at the steps with lo <= t <= hi; the others
    take the conditional velocity alone (one pass of B instead of 2B).
    ``alive`` (one flag per row, owned by the caller): a row whose flag turns False (its
    request was cancelled) leaves the batch at the next step; ``on_step`` then sees only the
    rows still alive at that step's start, in order, and the dropped rows come back as they
    stood when they left. Every row follows the path it would alone: DeepCache's reused deep
    feature is dropped per row (the rows the layout check rewrote), not for the whole batch.
    """
    use_cfg = guidance is not None and guidance != 1.0
    if use_cfg and null_context is None:
        raise ValueError("classifier-free guidance needs null_context")
    b = noise.shape[0]

    def joined(context, null_context):  # noqa: ANN001, ANN202 - cond then uncond rows
        if not use_cfg:
            return context
        return torch.cat([context[0], null_context[0]]), torch.cat([context[1], null_context[1]])

    ctx = joined(context, null_context)
    grid = timesteps(steps, shift)  # on the CPU: reading t_next below costs no device sync
    on_device = grid.to(noise.device)
    plan = reuse_plan(steps, *((0, 0) if use_cfg else (reuse_deep, reuse_tail)))
    deep = None
    stale = None  # [B] bool: rows the layout check rewrote since ``deep`` was computed
    x = noise
    rows = list(range(b))  # the caller's rows still sampled, in order
    out = noise.clone() if alive is not None else None
    lo, hi = guidance_interval
    for i in range(steps):
        if alive is not None and not all(alive[r] for r in rows):
            keep = [j for j, r in enumerate(rows) if alive[r]]
            out[rows] = x  # the leaving rows as they stand
            rows = [rows[j] for j in keep]
            if not rows:
                return out
            pick = torch.tensor(keep, device=x.device)
            x, b = x[pick], len(rows)
            context = (context[0][pick], context[1][pick])
            if null_context is not None:
                null_context = (null_context[0][pick], null_context[1][pick])
            ctx = joined(context, null_context)
            if deep is not None:
                deep, stale = deep[pick], stale[pick]
        if layout is not None and hasattr(layout, "rows"):
            layout.rows = rows
        t, t_next = on_device[i], on_device[i + 1]
        if use_cfg and lo - 1e-6 <= float(grid[i]) <= hi + 1e-6:
            v_c, v_u = model(torch.cat([x, x]), t.expand(2 * b), context=ctx).chunk(2)
            v = v_u + guidance * (v_c - v_u)  # [B, 4, 16, 16]
        elif use_cfg:  # a step outside the guidance interval
            v = v_c = model(x, t.expand(b), context=context)
        elif plan[i] and deep is not None and not stale.any():
            v = v_c = model.shallow(x, t.expand(b), deep, context=ctx)
        elif plan[i] and deep is not None and not stale.all():  # the rewritten rows run in
            # full, as they would alone
            v, fresh = torch.empty_like(x), ~stale
            v[fresh] = model.shallow(x[fresh], t.expand(int(fresh.sum())), deep[fresh],
                                     context=(ctx[0][fresh], ctx[1][fresh]))
            v[stale], deep[stale] = model.keep(x[stale], t.expand(int(stale.sum())),
                                               context=(ctx[0][stale], ctx[1][stale]))
            stale = torch.zeros_like(stale)
            v_c = v
        elif any(plan):
            v, deep = model.keep(x, t.expand(b), context=ctx)
            stale = torch.zeros(b, dtype=torch.bool, device=x.device)
            v_c = v
        else:
            v = v_c = model(x, t.expand(b), context=ctx)
        if layout is not None and float(grid[i]) <= layout_t + 1e-6:
            before = x
            x, v = layout(x, t, v_c, v)
            layout = None  # once per sampling run
            if deep is not None:  # a mirrored or transposed latent: its next step runs in full
                stale = stale | (x != before).flatten(1).any(1)
        if on_step is not None:
            on_step(i, steps, float(grid[i + 1]), FlowMatching.predict_x0(x, t.expand(b), v))
        x = x + (t_next - t) * v  # Euler step; t decreases so this moves toward data
    if out is None:
        return x
    out[rows] = x
    return out
