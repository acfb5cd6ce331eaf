"""The judge's model card (weights/judge.md), written by its trainer (``training/judge.py``)."""

from __future__ import annotations

from pathlib import Path

from triptych.judge.metrics import per_attribute


def reproduce_command(cfg: dict, init: str | None = None, run_dir: str | None = None) -> str:
    cmd = (f"triptych train judge --size {cfg['size']} --steps {cfg['steps']} "
           f"--batch {cfg['batch']} --lr {cfg['lr']} --seed {cfg['seed']} "
           f"--ae-prob {cfg['ae_prob']} --ae-from-step {cfg['ae_from_step']} "
           f"--threads {cfg['threads']}")
    if cfg.get("text_share", 0.35) != 0.35:
        cmd += f" --text-share {cfg['text_share']}"
    if cfg.get("random_words"):
        cmd += f" --random-words {cfg['random_words']}"
    if init:
        cmd += f" --init {init}"
    if cfg.get("train_only"):
        cmd += f" --train-only {cfg['train_only']}"
    if run_dir:
        cmd += f" --run-dir {run_dir}"
    return cmd


def _table(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    cols = [(split, kind) for split in metrics for kind in metrics[split]]
    keys = list(per_attribute(metrics["any"]["renders"]))
    head = "| attribute | " + " | ".join(f"{s} {k}" for s, k in cols) + " |"
    rule = "|---|" + "---|" * len(cols)
    rows = []
    for key in keys:
        vals = [metrics[s][k].get(key) for s, k in cols]
        rows.append(f"| {key} | " + " | ".join("–" if v is None else f"{100 * v:.2f} %"
                                                 for v in vals) + " |")
    return "\n".join([head, rule, *rows])


def write_card(path: str | Path, info: dict) -> Path:
    cfg = info["config"]
    text = f"""# Judge (triptych built-in evaluator)

A compact CNN that reads a 64×64 scene of the procedural world back into its attributes, so
prompt adherence can be scored GenEval-style with exact ground truth (`triptych eval`).

## Architecture
- Backbone: 7 conv3×3 + BatchNorm + ReLU layers, channels {cfg_channels(cfg)}, three stride-2
  downsamples (64 → 16×16 → 8×8 feature maps).
- 9 slot vectors pooled from the 8×8 map with learned soft windows initialised on the 3×3 slot
  grid; per slot: object class (24 emoji + 4 shapes + empty) and colour (10).
- Global heads (mean-pooled 8×8 map): background colour, word colour.
- Text line head (OCR-style), on the stem's 32×32 map: two conv3×3 + BatchNorm + ReLU layers
  of {cfg_char(cfg)} channels that halve the rows only (16 rows × 32 columns of 2 px), a learned
  per-column attention over the rows, three 1-D convs (kernels 5, 5, 3), then a letter-or-blank
  classifier per column, trained with cross-entropy against the column of each rendered
  letter's centre (the renderer knows it). Decoding pairs each strong column with its stronger
  neighbour (a centre on a column boundary splits between the two) and keeps pairs whose
  summed P(letter) passes 0.3; left to right, they spell the word.
- Parameters: {info['params']:,} (stored as fp16 safetensors).

## Data
Rendered on the fly from the world's "any" split (held-out compositions included: the judge
must read them; they are held out from generators only) with more text ({_text_shares(info)}
of world scenes{_random_line(info)}), plus judge-only blank (3 %) and clutter scenes (12 %, 2–5
unrelated objects).
Augmentation: ±2 px shifts, mild contrast/brightness/per-channel gain, Gaussian noise, blur,
64→32→64 resampling.
Autoencoder reconstructions: {_ae_line(info)}.

## Training
{_training(info)}

## Metrics
Per-attribute accuracy on {cfg['eval_n']} fresh renders per split (seeds never used in training);
"reconstructions" are the autoencoder round trips of the same renders: the ceiling a latent
generator can reach under this judge.{_random_metrics_line(info)}

{_table(info['metrics'])}

{_ceiling(info)}
## Limitations
{_text_limit(info)}
{_ae_text_limit(info)}
- Objects are read per 3×3 slot: an object drawn between slots may be read in either slot.

## Reproduce
{_reproduce(info)}
(seeded and resumable: each run directory keeps its run state, `state.json` and the tensors it
names; rerunning the same command continues where it stopped, `--no-resume` starts over.)
"""
    path = Path(path)
    path.write_text(text)
    return path


def _phases(info: dict, init: str | None = None, run_dir: str | None = None) -> list[str]:
    """One comment + command per phase of one run directory (phases resume each other)."""
    phases = info.get("history") or [{"from_step": 0, "config": info["config"]}]
    ends = [p["from_step"] for p in phases[1:]] + [info["steps"]]
    out = []
    for i, (p, end) in enumerate(zip(phases, ends, strict=True)):
        out.append(f"# phase {i + 1}: steps {p['from_step']}-{end} (the schedule follows "
                   f"--steps of its phase)")
        out.append(reproduce_command(p["config"], init=init if p["config"].get("init") else None,
                                     run_dir=run_dir))
    return out


def _reproduce(info: dict) -> str:
    prior = info.get("prior")
    if prior is None:
        lines = _phases(info)
        if len(lines) == 2:
            return f"```\n{lines[1]}\n```"
        return ("Run these in order with the same run directory (each resumes the previous; "
                "the first stops after its --steps):\n```\n" + "\n".join(lines) + "\n```")
    stage1 = _phases(prior)
    stage2 = _phases(info, init="src/triptych/weights/judge.safetensors",
                     run_dir="runs/judge-text")
    reset = ("\nStage 1 was run with a text head of another shape (the earlier 16-column one), "
             "so stage 2 started its text head from fresh weights; rerun today, stage 1 trains "
             "the current head along and stage 2 continues it, so the result differs slightly."
             if prior.get("text_head_reset") else "")
    return ("Stage 1 (run directory `runs/judge/`, writes the package's judge.safetensors), "
            "then stage 2 from it in its own run directory:\n```\n# stage 1\n"
            + "\n".join(stage1) + "\n# stage 2: the text line head alone\n"
            + "\n".join(stage2) + "\n```" + reset)


def _training(info: dict) -> str:
    cfg = info["config"]
    own = (f"{info['steps']} steps × batch {cfg['batch']}, AdamW lr {cfg['lr']} (warm-up "
           f"{cfg['warmup']}, cosine), weight decay {cfg['weight_decay']}, seed {cfg['seed']}, "
           f"{cfg['threads']} CPU thread(s). Wall time: {info['wall_time_s'] / 60:.1f} min of "
           "training (its periodic evaluations included).")
    prior = info.get("prior")
    if prior is None:
        return own
    p = prior["config"]
    return (f"Stage 1, every weight: {prior['steps']} steps × batch {p['batch']}, AdamW lr "
            f"{p['lr']} (warm-up {p['warmup']}, cosine), weight decay {p['weight_decay']}, seed "
            f"{p['seed']}, {p['threads']} CPU thread(s), {prior['wall_time_s'] / 60:.1f} min.\n\n"
            f"Stage 2, the text line head alone (every other weight and BatchNorm statistic "
            f"frozen, so objects, colours and counts read exactly as after stage 1), on batches "
            f"where {round(100 * cfg.get('text_share', 0.35))} % of world scenes show a word: "
            + own)


def _random_metrics_line(info: dict) -> str:
    if "random-words" not in info["metrics"]:
        return ""
    return ("\n`random-words` are text scenes whose word is 2–6 random letters (words outside the "
            "world's list, as a user's prompt may ask for).")


def _text_limit(info: dict) -> str:
    m = info["metrics"]["any"]["renders"]
    char, word = m.get("char", 0.0), m.get("word_exact", 0.0)
    if min(char, word) >= 0.98:
        line = (f"- Words on renders read at {100 * char:.1f} % of characters and "
                f"{100 * word:.1f} % exact.")
    else:
        line = (f"- Text is below the 98 % target on renders ({100 * char:.1f} % of characters, "
                f"{100 * word:.1f} % of words exact); treat text-task scores as lower bounds.")
    rand = info["metrics"].get("random-words", {}).get("renders")
    if rand:
        line += (f" Random letter strings: {100 * rand['char']:.1f} % of characters, "
                 f"{100 * rand['word_exact']:.1f} % exact (no word list to lean on).")
    return line


def _ceiling(info: dict) -> str:
    ceil = info.get("eval_ceiling")
    if not ceil:
        return ""
    tasks = list(next(iter(ceil.values()))["tasks"])
    for c in ceil.values():
        tasks += [t for t in c["tasks"] if t not in tasks]
    head = "| reference generator | overall | " + " | ".join(tasks) + " |"
    rule = "|---|---|" + "---|" * len(tasks)
    rows = [f"| {name} | {c['overall']:.3f} | "
            + " | ".join(f"{c['tasks'][t]:.2f}" if t in c["tasks"] else "–" for t in tasks)
            + " |" for name, c in ceil.items()]
    n = next(iter(ceil.values()))["n_images"]
    return f"""## Eval ceiling
`triptych eval` scores (small set: {n} images per row) of the reference generators under this
judge: `ground-truth` renders each prompt's scene (the judge's own ceiling), `ground-truth+ae`
is its autoencoder round trip (the ceiling for latent generators).

{chr(10).join([head, rule, *rows])}

"""


def _random_line(info: dict) -> str:
    share = info["config"].get("random_words") or 0.0
    if not share:
        return ""
    stage = " in stage 2" if info.get("prior") else ""
    return (f"; {round(100 * share)} % of the words{stage} are 2–6 random letters, so reading "
            "cannot lean on the word list")


def _text_shares(info: dict) -> str:
    share = f"{round(100 * info['config'].get('text_share', 0.35))} %"
    prior = info.get("prior")
    if prior is None:
        return share
    first = round(100 * prior["config"].get("text_share", 0.35))
    return f"{first} % in stage 1, {share} in stage 2"


def _ae_text_limit(info: dict) -> str:
    recon = info["metrics"]["any"].get("reconstructions")
    if not recon or "char" not in recon:
        return "- Reconstructions were not measured (no autoencoder checkpoint)."
    return (f"- Autoencoder round trips blur thin strokes: on reconstructions the judge reads "
            f"{100 * recon['char']:.1f} % of characters and {100 * recon['word_exact']:.1f} % of "
            "words exactly, so that is the latent generators' text ceiling (the eval ceiling's "
            "`ground-truth+ae` text column).")


def _ae_line(info: dict) -> str:
    cfg = info["config"]
    if not info["autoencoder"]:
        return "no (autoencoder not used or its checkpoint was not available)"
    line = f"yes, {round(100 * cfg['ae_prob'])} % of each batch from step {cfg['ae_from_step']}"
    prior = info.get("prior")
    if prior is not None:
        p = prior["config"]
        line = (f"yes, {round(100 * p['ae_prob'])} % of each batch from step "
                f"{p['ae_from_step']} in stage 1, {round(100 * cfg['ae_prob'])} % from step "
                f"{cfg['ae_from_step']} in stage 2")
    ae_path = Path(__file__).resolve().parent.parent / "weights" / "autoencoder.safetensors"
    if ae_path.exists():
        from triptych.nets.checkpoint import file_digest

        line += f" (`weights/autoencoder.safetensors`, sha256 {file_digest(ae_path)}…)"
    return line


def cfg_channels(cfg: dict) -> str:
    from triptych.judge.model import CONFIGS

    return "-".join(map(str, CONFIGS[cfg["size"]].channels))


def cfg_char(cfg: dict) -> str:
    from triptych.judge.model import CONFIGS

    return str(CONFIGS[cfg["size"]].text_width)
