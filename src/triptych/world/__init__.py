"""The procedural world: seeded scenes of emoji, coloured shapes and words, their renders and
captions, and a parser for the caption language. Training data for the built-in models and
ground truth for the judge. See docs/world.md."""

from triptych.world.captions import canonical_caption, caption
from triptych.world.dataset import make_pairs, render_batch
from triptych.world.parse import ObjectSpec, PromptParseError, PromptSpec, parse_prompt
from triptych.world.render import render
from triptych.world.sampling import is_heldout_scene, sample_scene
from triptych.world.scene import Obj, Scene

__all__ = [
    "Obj", "ObjectSpec", "PromptParseError", "PromptSpec", "Scene", "canonical_caption",
    "caption", "is_heldout_scene", "make_pairs", "parse_prompt", "render", "render_batch",
    "sample_scene",
]
