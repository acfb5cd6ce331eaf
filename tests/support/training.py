"""Shared by the training tests: the keyword arguments that keep a trainer quiet and on one
thread (no progress lines in the test output, the same numbers on any machine), and a
stand-in for MiniLM."""

from __future__ import annotations

import torch

from triptych.nets.lm_connector import LM_DIM

quiet = {"log": lambda *_: None, "threads": 1}


class FakeSentenceModel:
    """Deterministic stand-in for MiniLM: [CLS] + one state per word + [SEP]."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, prompts, **_kwargs):
        self.calls += 1
        out = []
        for p in prompts:
            gen = torch.Generator().manual_seed(sum(map(ord, p)))
            out.append(torch.randn(len(p.split()) + 2, LM_DIM, generator=gen))
        return out

