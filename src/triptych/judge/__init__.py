"""The judge: a small CNN trained on rendered scenes that reads back object classes, counts,
positions, colours, background and words, and the GenEval-style rules that score a prompt
against what it reads. ``load_judge()`` loads the shipped checkpoint lazily (cached)."""

from triptych.judge.checkpoint import JudgeCheckpointError, load_judge
from triptych.judge.readout import Readout, read_images
from triptych.judge.scoring import ImageScore, score_image

__all__ = ["ImageScore", "JudgeCheckpointError", "Readout", "load_judge", "read_images",
           "score_image"]
