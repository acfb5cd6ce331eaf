"""Train the judge (``triptych train judge``) through the training loop (``training/loop.py``:
resume bit-for-bit, schedule, checkpoints, log, progress); renders are generated per step.

Every step's data and augmentation derive from (seed, step) alone (the same seeds as the
judge's earlier, loop-of-its-own trainer, so its recipes still reproduce), so a resumed run sees
exactly the batches an uninterrupted one would. Once ``ae_from_step`` is reached, a fraction
``ae_prob`` of each batch is replaced by autoencoder reconstructions of the same renders, so
the judge tolerates generator artefacts. If the autoencoder checkpoint is missing, the run stops
resumably at ``ae_from_step`` (``AutoencoderMissingError``) rather than train a different
judge; ``use_ae=False`` (``--no-ae``) trains on renders only and the card says so.

A second stage can start from a trained judge (``init``) and train only its text line head
(``train_only="text"``, on a batch with more words: ``text_share``): every other head is
frozen, BatchNorm statistics included, so object, colour and count readings stay bit-identical
and only text scores move.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from triptych.errors import ModelUnavailable
from triptych.judge.augment import AugmentConfig, augment
from triptych.judge.checkpoint import DEFAULT_PATH, FORMAT, read_metadata, save_judge
from triptych.judge.labels import (
    IGNORE,
    JUDGE_KINDS,
    batch,
    random_word_scene,
    sample_batch,
    stack_targets,
)
from triptych.judge.metrics import attribute_accuracy, per_attribute
from triptych.judge.model import CONFIGS, Judge, is_text_param, to_input
from triptych.training import loop
from triptych.training.common import RunState, seed_everything, set_threads

LOSS_WEIGHTS = {"slot_class": 1.0, "slot_colour": 1.0, "background": 0.5, "chars": 1.0,
                "word_colour": 0.5}
EVAL_SEED = 10_000_019  # validation renders: a seed stream training never touches


@dataclass
class TrainJudgeConfig:
    size: str = "small"  # key of model.CONFIGS
    steps: int = 1300  # ~20 min of one free core at batch 128 (≈0.9 s/step)
    batch: int = 128
    lr: float = 2e-3  # small convnet + BatchNorm tolerates a high AdamW lr
    weight_decay: float = 1e-4
    warmup: int = 100
    final_frac: float = 0.02  # the cosine ends at 2 % of lr
    seed: int = 0
    ae_prob: float = 0.4  # fraction of a batch that are AE reconstructions (after ae_from_step)
    ae_from_step: int = 800  # renders first; reconstructions once the readout has formed
    eval_every: int = 250  # scores on min(eval_n, 512) fresh renders, into the log
    eval_n: int = 1024
    checkpoint_every: int = 50
    log_every: int = 25
    threads: int = 1  # the machine is shared: one core by default
    text_share: float = JUDGE_KINDS["text"]  # share of world scenes that are words
    random_words: float = 0.0  # share of word scenes whose word is random letters
    init: str | None = None  # start from this judge checkpoint (a later stage)
    train_only: str | None = None  # "text": train the text line head alone, the rest frozen
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        return asdict(self)


# a few steps of the tiny judge (tests); warm-up 2: a 2-step run is the first half of a 4-step one
TINY = TrainJudgeConfig(size="tiny", steps=4, batch=8, warmup=2, eval_every=100, eval_n=16,
                        checkpoint_every=2, log_every=1)


def loss_fn(out: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    losses = {
        "slot_class": F.cross_entropy(out["slot_class"].flatten(0, 1), tgt["slot_class"].flatten()),
        "slot_colour": F.cross_entropy(out["slot_colour"].flatten(0, 1),
                                       tgt["slot_colour"].flatten(), ignore_index=IGNORE),
        "background": F.cross_entropy(out["background"], tgt["background"]),
        "chars": F.cross_entropy(out["chars"].flatten(0, 1), tgt["columns"].flatten()),
        "word_colour": F.cross_entropy(out["word_colour"], tgt["word_colour"],
                                       ignore_index=IGNORE),
    }
    # a batch with no shapes / words gives NaN for an all-ignored head: count it as zero
    losses = {k: torch.nan_to_num(v) for k, v in losses.items()}
    losses["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in losses.items())
    return losses


class AutoencoderMissingError(ModelUnavailable):
    code = "autoencoder_missing"


def load_autoencoder(log: Callable[[str], None] = print):
    """The shipped autoencoder, or None if its checkpoint has not landed."""
    try:
        from triptych.nets.autoencoder import load_pretrained

        return load_pretrained()
    except Exception as exc:  # a missing or unreadable checkpoint
        log(f"[judge] autoencoder unavailable ({exc})")
        return None


@torch.no_grad()
def reconstruct(ae, x: torch.Tensor, batch: int = 128) -> torch.Tensor:
    """x: [B, 3, 64, 64] in [-1, 1] -> the autoencoder's round trip, same shape."""
    return torch.cat([ae.decode(ae.encode(x[i:i + batch])).clamp(-1, 1)
                      for i in range(0, x.shape[0], batch)])


def make_batch(cfg: TrainJudgeConfig, step: int, ae) -> tuple[torch.Tensor, dict]:
    images, _, scenes = sample_batch(cfg.batch, seed=cfg.seed * 1_000_003 + step,
                                     text_share=cfg.text_share,
                                     random_words=cfg.random_words)
    x = to_input(images)  # [B, 3, 64, 64]
    g = torch.Generator().manual_seed(cfg.seed * 7_919 + step)
    if ae is not None and step >= cfg.ae_from_step and cfg.ae_prob > 0:
        k = round(cfg.ae_prob * cfg.batch)
        x[:k] = reconstruct(ae, x[:k])
    x, shifts = augment(x, g, cfg.augment)
    return x, stack_targets(scenes, shifts)


def evaluate(model: Judge, n: int, ae=None, split: str = "any", seed: int = EVAL_SEED
             ) -> dict[str, dict[str, float]]:
    """Accuracy on fresh renders of the world (and on their AE reconstructions if given)."""
    from triptych.world.dataset import render_batch

    images, _, scenes = render_batch(n, seed, split)
    return _renders_and_reconstructions(model, to_input(torch.from_numpy(images)), scenes, ae)


def _renders_and_reconstructions(model: Judge, x: torch.Tensor, scenes: list, ae
                                 ) -> dict[str, dict[str, float]]:
    result = {"renders": attribute_accuracy(model, x, scenes)}
    if ae is not None:
        result["reconstructions"] = attribute_accuracy(model, reconstruct(ae, x), scenes)
    return result


def evaluate_random_words(model: Judge, n: int, ae=None, seed: int = EVAL_SEED + 2
                          ) -> dict[str, dict[str, float]]:
    """Reading words that are not in the world's list: 2-6 random letters (fresh seeds)."""
    import random

    rng = random.Random(seed)
    scenes = [random_word_scene(rng) for _ in range(n)]
    return _renders_and_reconstructions(model, to_input(batch(scenes)[0]), scenes, ae)


def _load_init(model: Judge, cfg: TrainJudgeConfig) -> dict:
    """Copy a trained judge's weights into ``model`` (a text head of another shape starts
    fresh) and return what its card needs to describe the earlier stage."""
    if cfg.train_only not in (None, "text"):
        raise ValueError(f"train_only must be 'text' or None, not {cfg.train_only!r}")
    from safetensors.torch import load_file

    meta = read_metadata(cfg.init)  # raises a clear error for a missing or foreign file
    if meta.get("format") != FORMAT:
        raise ValueError(f"--init {cfg.init} is not a judge checkpoint")
    own = model.state_dict()
    # raw tensors, not load_judge_from: an older text head has keys this model lacks
    kept = {k: v.float() for k, v in load_file(str(cfg.init)).items()
            if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in kept and not k.endswith("num_batches_tracked")]
    frozen_missing = [k for k in missing if not is_text_param(k)]
    if frozen_missing:
        raise ValueError(f"--init {cfg.init} lacks weights outside the text head: "
                         f"{frozen_missing[:3]}")
    model.load_state_dict(kept, strict=False)
    extra = json.loads(meta.get("extra", "{}"))
    return {"path": str(cfg.init), "steps": extra.get("steps"),
            "wall_time_s": extra.get("wall_time_s"), "config": extra.get("config"),
            "history": extra.get("history"), "prior": extra.get("prior"),
            "text_head_reset": any(is_text_param(k) for k in missing)}


def _train_mode(model: Judge, cfg: TrainJudgeConfig) -> None:
    """Train mode for what trains; frozen parts keep eval mode (their BatchNorm statistics)."""
    model.train()
    if cfg.train_only == "text":
        for name, module in model.named_children():
            if not is_text_param(name + "."):
                module.eval()


def _phases(config: dict) -> Callable[[RunState], None]:
    """Keep the run's phases in its state (``extra["history"]``): a resume with another config
    (e.g. more --steps) starts a phase, so the card can give an exact reproduce recipe."""

    def note(state: RunState) -> None:
        history = state.extra.setdefault("history", [{"from_step": 0, "config": config}])
        if history[-1]["config"] != config:
            history.append({"from_step": state.step, "config": config})

    return note


def train_judge(cfg: TrainJudgeConfig, run_dir: str | Path, out: str | Path = DEFAULT_PATH, *,
                use_ae: bool = True, resume: bool = True, log: Callable[[str], None] = print,
                eval_ceiling: Callable[[Path, bool], dict] | None = None) -> dict:
    """Train (or resume ``run_dir``'s run state when ``resume``), write ``out``, its card and
    ``run_dir/final_metrics.json``, return the metrics. ``eval_ceiling(out, with_ae)``: scores
    to put on the card (the evaluation package's reference ceilings)."""
    if cfg.train_only and not cfg.init:
        raise ValueError("train_only needs init: a text head on an untrained backbone")
    set_threads(cfg.threads)
    run_dir = Path(run_dir)
    seed_everything(cfg.seed)
    model = Judge(CONFIGS[cfg.size])
    prior = _load_init(model, cfg) if cfg.init else None
    trained = model.text_parameters() if cfg.train_only == "text" else list(model.parameters())
    model.requires_grad_(False)
    for p in trained:
        p.requires_grad_(True)
    wants_ae = use_ae and cfg.ae_prob > 0
    ae = load_autoencoder(log) if wants_ae and cfg.ae_from_step < cfg.steps else None

    def loss(step: int, _gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        _train_mode(model, cfg)
        x, tgt = make_batch(cfg, step, ae)
        losses = loss_fn(model(x), tgt)
        return losses.pop("total"), losses

    def scores(judge: torch.nn.Module) -> dict[str, float]:
        return per_attribute(evaluate(judge, min(cfg.eval_n, 512))["renders"])

    config = json.loads(json.dumps(cfg.to_dict()))
    job = loop.Job("judge", model, torch.optim.AdamW(trained, lr=cfg.lr,
                                                     weight_decay=cfg.weight_decay),
                   loss, seed=cfg.seed, evaluate=scores)
    outcome = loop.train(job, loop.Schedule.of(cfg), run_dir=run_dir, resume=resume,
                         on_start=_phases(config), log=log,
                         stop_at=cfg.ae_from_step if wants_ae and ae is None else None)
    state = outcome.state
    if state.step < outcome.total:  # stopped resumably rather than train a different judge
        raise AutoencoderMissingError(
            f"Step {state.step} needs autoencoder reconstructions but the autoencoder "
            "checkpoint is not available. Train it ('triptych train autoencoder') and rerun "
            f"the same command to resume from {run_dir}, or pass --no-ae.")

    if ae is None and use_ae:
        ae = load_autoencoder(log)  # still report the reconstruction ceiling
    model.eval()
    metrics = {"any": evaluate(model, cfg.eval_n, ae, "any"),
               "heldout": evaluate(model, cfg.eval_n, ae, "heldout", seed=EVAL_SEED + 1),
               "random-words": evaluate_random_words(model, cfg.eval_n, ae)}
    info = {"steps": state.step, "wall_time_s": round(state.wall_s, 1),
            "params": model.num_params(), "autoencoder": wants_ae and ae is not None,
            "config": cfg.to_dict(), "history": state.extra["history"], "metrics": metrics}
    if prior is not None:
        info["prior"] = prior
    save_judge(model, out, extra={k: v for k, v in info.items() if k != "metrics"})
    if eval_ceiling is not None:
        info["eval_ceiling"] = eval_ceiling(Path(out), ae is not None)
    from triptych.training.judge_card import write_card

    write_card(Path(out).with_suffix(".md"), info)
    (run_dir / "final_metrics.json").write_text(json.dumps(info, indent=2))
    outcome.jlog.write(final={k: info[k] for k in ("steps", "wall_time_s", "autoencoder")})
    return info
