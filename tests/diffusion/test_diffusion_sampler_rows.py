"""The sampler's rows in a batch of several requests: a cancelled row leaves, and every row
follows the path it would alone (DeepCache's reuse is dropped per row)."""

from __future__ import annotations

import torch

from triptych.diffusion.sampler import sample_euler


class RowWise(torch.nn.Module):
    """A velocity that depends on its own row only; ``shallow`` differs from a full step, so
    a row that ran the wrong kind of step shows."""

    def forward(self, x, t, ids=None, *, context):  # noqa: ANN001, ANN201
        return 0.5 * x + context[0].mean((1, 2))[:, None, None, None] + t[:, None, None, None]

    def keep(self, x, t, *, context):  # noqa: ANN001, ANN201
        return self(x, t, context=context), x.sum(1, keepdim=True)  # deep [B,1,16,16]

    def shallow(self, x, t, deep, *, context):  # noqa: ANN001, ANN201
        return 0.4 * x + 0.01 * deep + context[0].mean((1, 2))[:, None, None, None]


class FlipSome:
    """A layout hook that mirrors the rows of the given prompts (as LayoutCheck does)."""

    active = True

    def __init__(self, flip: set[int]) -> None:
        self.flip, self.rows = flip, None

    def __call__(self, x, t, v_cond, v):  # noqa: ANN001, ANN204
        x, v = x.clone(), v.clone()
        for j, prompt in enumerate(self.rows if self.rows is not None else range(len(x))):
            if prompt in self.flip:
                x[j], v[j] = x[j].flip(2), v[j].flip(2)
        return x, v


def batch(n: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    return (torch.randn(n, 4, 16, 16, generator=g),
            (torch.randn(n, 5, 8, generator=g), torch.ones(n, 5, dtype=torch.bool)))


def rows(context, keep):  # noqa: ANN001, ANN201
    return context[0][keep], context[1][keep]


def test_a_row_rewritten_by_the_layout_check_runs_in_full_the_others_reuse() -> None:
    noise, context = batch(3)
    kw = {"steps": 4, "reuse_tail": 1}  # the last step reuses the deep feature
    together = sample_euler(RowWise(), noise, context, layout=FlipSome({1}), **kw)
    for i in range(3):
        alone = sample_euler(RowWise(), noise[i:i + 1], rows(context, [i]),
                             layout=FlipSome({0} if i == 1 else set()), **kw)
        assert torch.allclose(together[i:i + 1], alone, atol=1e-6), i


def test_a_dropped_row_leaves_and_the_others_go_on_as_alone() -> None:
    noise, context = batch(3)
    alive = [True, True, True]
    seen: list[int] = []

    def on_step(i, total, t_next, x0):  # noqa: ANN001, ANN202
        seen.append(x0.shape[0])
        if i == 1:
            alive[1] = False  # the second request is cancelled after step 2

    out = sample_euler(RowWise(), noise, context, steps=4, reuse_tail=1, on_step=on_step,
                       alive=alive)
    assert seen == [3, 3, 2, 2]
    others = sample_euler(RowWise(), noise[[0, 2]], rows(context, [0, 2]), steps=4,
                          reuse_tail=1)
    assert torch.allclose(out[[0, 2]], others, atol=1e-6)
    flag = [True]

    def leave(i, *_):  # noqa: ANN001, ANN002, ANN202
        if i == 1:
            flag[0] = False

    stood = sample_euler(RowWise(), noise[1:2], rows(context, [1]), steps=4, reuse_tail=1,
                         on_step=leave, alive=flag)
    assert torch.allclose(out[1:2], stood, atol=1e-6)  # as it stood when it left
    assert not torch.allclose(stood, sample_euler(RowWise(), noise[1:2], rows(context, [1]),
                                                  steps=4, reuse_tail=1))
