"""Which sampler steps reuse a deep feature (DeepCache)."""

from __future__ import annotations

from triptych.diffusion.sampler import reuse_plan


def test_reuse_plan() -> None:
    assert reuse_plan(4, 0) == [False] * 4
    assert reuse_plan(4, 1) == [False, True, False, True]
    assert reuse_plan(6, 2) == [False, True, True, False, True, True]
    assert reuse_plan(2, 1) == [False, False] and reuse_plan(1, 3) == [False]


def test_reuse_plan_tail() -> None:
    assert reuse_plan(4, 0, tail=1) == [False, False, False, True]
    assert reuse_plan(4, 0, tail=2) == [False, False, True, True]
    assert reuse_plan(4, 0, tail=9) == [False, True, True, True]  # the first step is full
    assert reuse_plan(6, 2, tail=1) == [False, True, True, False, True, True]
    assert reuse_plan(5, 1, tail=2) == [False, True, False, True, True]
    assert reuse_plan(2, 0, tail=1) == [False, False]  # drafts of 1-2 steps run in full
