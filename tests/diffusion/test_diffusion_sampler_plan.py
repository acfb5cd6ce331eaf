"""Which sampler steps reuse a deep feature (DeepCache)."""

from __future__ import annotations

from triptych.diffusion.sampler import reuse_plan


def test_reuse_plan() -> None:
    assert reuse_plan(4, 0) == [False] * 4
    assert reuse_plan(4, 1) == [False, True, False, True]
    assert reuse_plan(6, 2) == [False, True, True, False, True, True]
    assert reuse_plan(2, 1) == [False, False] and reuse_plan(1, 3) == [False]
