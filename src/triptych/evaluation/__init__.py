"""GenEval-style evaluation of image models on the procedural world (``triptych eval``):
prompt sets, generation through engines, judging, per-task report, KID and a sample sheet."""

from triptych.evaluation.runner import EvalOptions, run_eval
from triptych.evaluation.tasks import EvalItem, generated_prompts, prompts_from_file

__all__ = ["EvalItem", "EvalOptions", "generated_prompts", "prompts_from_file", "run_eval"]
