"""``triptych eval MODEL``: GenEval-style prompt adherence of a model, scored by the judge."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from triptych.cli.output import console, emit_json, handle_errors, json_option


@click.command("eval")
@click.argument("model", required=False)
@click.option("--all", "all_builtin", is_flag=True,
              help="The architectures report: every built-in model on the same prompts and "
                   "seeds, side by side (architectures.md, .json and one sheet in --out).")
@click.option("--prompts", "prompts_file", type=click.Path(path_type=Path), default=None,
              help="Plain-text prompts, one per line, in the world's caption language.")
@click.option("--paraphrases", "paraphrases_file", type=click.Path(path_type=Path), default=None,
              help="'paraphrase<TAB>canonical prompt' per line: generate from the paraphrase, "
                   "judge against the canonical prompt.")
@click.option("--heldout", is_flag=True,
              help="Use generated prompts of held-out compositions (instead of in-distribution).")
@click.option("--per-task", default=30, show_default=True, type=int,
              help="Generated prompts per task (7 tasks in-distribution, 4 held-out).")
@click.option("--seeds", default=4, show_default=True, type=int, help="Images per prompt.")
@click.option("--seed-base", default=0, show_default=True, type=int)
@click.option("--steps", default=None, type=int, help="Sampling steps (default: the model's).")
@click.option("--guidance", default=None, type=float,
              help="CFG scale (default: the model's; pico-turbo has it baked in).")
@click.option("--layout-check/--no-layout-check", default=True, show_default=True,
              help="The diffusion models' mid-way check that mirrors a layout contradicting "
                   "the prompt's spatial relation (off: the raw model).")
@click.option("--prompt-seed", default=None, type=int,
              help="Seed of the generated prompt set (default: the eval's fixed set); another "
                   "seed gives a disjoint tuning set.")
@click.option("--agree-with", default=None, metavar="MODEL",
              help="Also generate with MODEL (same prompts and seeds) and report how often the "
                   "judge reads both the same way (e.g. pico-turbo vs pico-diffusion).")
@click.option("--judge", "judge_path", default=None, type=click.Path(path_type=Path),
              help="Judge checkpoint (default: the shipped weights/judge.safetensors).")
@click.option("--kid-real", default=1000, show_default=True, type=int,
              help="Real renders for KID.")
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path),
              help="Where report.json and sheet.png go [default: runs/eval/MODEL-...].")
@json_option
@handle_errors
def eval_command(model: str | None, all_builtin: bool, prompts_file: Path | None,
                 paraphrases_file: Path | None,
                 heldout: bool, per_task: int, seeds: int, seed_base: int, steps: int | None,
                 guidance: float | None, layout_check: bool, prompt_seed: int | None,
                 agree_with: str | None, judge_path: Path | None, kid_real: int,
                 out_dir: Path | None, as_json: bool) -> None:
    """Score MODEL's prompt adherence (per task and overall), KID and ms/image.

    MODEL is a catalog id, or a reference: ground-truth (renders of the prompt: the judge's
    ceiling), ground-truth+ae (their autoencoder round trips: the latent generators' ceiling)
    or ground-truth+bits (their bits-tokenizer round trips: pico-bits' ceiling).
    --all instead evaluates every built-in model, side by side (the architectures report).

    Without --prompts, uses fresh in-distribution prompts (--per-task per task) or, with
    --heldout, prompts of the held-out compositions. Each (prompt, seed) is one n=1 request.
    """
    from triptych.errors import InvalidRequest
    from triptych.evaluation.report import print_report
    from triptych.evaluation.runner import EvalOptions, run_eval
    from triptych.evaluation.tasks import (
        generated_prompts,
        paraphrases_from_file,
        prompts_from_file,
    )

    if bool(model) == all_builtin:
        raise InvalidRequest("Name one MODEL, or pass --all for every built-in model.",
                             field="model")
    if all_builtin and agree_with:
        raise InvalidRequest("--agree-with compares two models; leave it out with --all.",
                             field="agree_with")
    if prompts_file and paraphrases_file:
        raise InvalidRequest("Give --prompts or --paraphrases, not both.", field="prompts")
    if seeds < 1:
        raise InvalidRequest("--seeds must be at least 1.", field="seeds")
    if prompts_file:
        items = prompts_from_file(prompts_file)
    elif paraphrases_file:
        items = paraphrases_from_file(paraphrases_file)
    else:
        split = "heldout" if heldout else "train"
        items = (generated_prompts(per_task, split) if prompt_seed is None
                 else generated_prompts(per_task, split, seed=prompt_seed))
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        tag = "".join([f"-steps{steps}" if steps else "",
                       f"-w{guidance:g}" if guidance is not None else "",
                       "" if layout_check else "-nolayout",
                       "-heldout" if heldout else "",
                       "-paraphrases" if paraphrases_file else ""])
        out_dir = Path("runs") / "eval" / f"{model or 'architectures'}{tag}-{stamp}"

    bar = None
    if not as_json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(items) * seeds, unit="img", file=sys.stderr)

    def progress(label: str, done: int, total: int) -> None:
        if bar is not None:
            if bar.total != total or bar.desc != label:
                bar.reset(total=total)
                bar.set_description(label)
            bar.n = done
            bar.refresh()

    opts = EvalOptions(seeds=seeds, seed_base=seed_base, steps=steps, guidance=guidance,
                       layout_check=layout_check,
                       judge_path=str(judge_path) if judge_path else None, kid_real=kid_real)
    if all_builtin:
        from triptych.evaluation.architectures import run_architectures

        data = run_architectures(items, opts, out_dir, progress=progress)
        if bar is not None:
            bar.close()
        if as_json:
            emit_json(data)
        else:
            console.print((Path(out_dir) / "architectures.md").read_text(), markup=False)
            console.print(f"written to {out_dir}")
        return
    report = run_eval(model, items, opts, agree_with=agree_with, out_dir=out_dir,
                      progress=progress)
    if bar is not None:
        bar.close()
    if as_json:
        emit_json({k: v for k, v in report.items() if k != "records"})
    else:
        print_report(report, console)


COMMANDS = [eval_command]
