"""A deterministic stand-in for ``training.common.Timer`` in the --max-minutes tests."""

from __future__ import annotations


class TickingTimer:
    """Every reading advances the clock by 10 ms: a fixed, machine-independent "speed"."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    @property
    def total(self) -> float:
        self.now += 0.01
        return self.now
