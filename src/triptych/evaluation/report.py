"""Aggregate per-image judgements into the eval report (and print it)."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean
from typing import Any

from triptych.evaluation.tasks import GENEVAL_TASKS, TASKS


def task_scores(records: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, int]]:
    """Per task: mean pass rate. The background task pools every prompt that names one."""
    passes: dict[str, list[bool]] = defaultdict(list)
    for rec in records:
        passes[rec["task"]].append(rec["passed"])
        if "background" in rec["checks"]:
            passes["background"].append(rec["checks"]["background"])
    scores = {t: float(mean(passes[t])) for t in TASKS if passes[t]}
    return scores, {t: len(passes[t]) for t in TASKS if passes[t]}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    scores, counts = task_scores(records)
    cers = [r["cer"] for r in records if r.get("cer") is not None]
    word_colours = [r["checks"]["word_colour"] for r in records if "word_colour" in r["checks"]]
    geneval = [scores[t] for t in GENEVAL_TASKS if t in scores]
    return {
        "overall": mean(scores.values()) if scores else 0.0,
        "overall_geneval": mean(geneval) if geneval else None,
        "tasks": scores,
        "task_n": counts,
        "text_cer": float(mean(cers)) if cers else None,
        "word_colour": float(mean(word_colours)) if word_colours else None,
        "all_correct": float(mean(all(r["checks"].values()) for r in records)) if records else 0.0,
    }


def print_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    title = f"{report['model']}  ({report['n_prompts']} prompts × {report['seeds']} seeds"
    title += f", steps {report['steps']})" if report.get("steps") else ")"
    table = Table(title=title)
    table.add_column("task")
    table.add_column("score", justify="right")
    table.add_column("n", justify="right")
    for task, score in report["tasks"].items():
        table.add_row(task, f"{score:.3f}", str(report["task_n"][task]))
    table.add_row("[bold]overall[/]", f"[bold]{report['overall']:.3f}[/]", "")
    console.print(table)
    extras = []
    if report.get("overall_geneval") is not None:
        extras.append(f"GenEval-6 mean {report['overall_geneval']:.3f}")
    if report.get("text_cer") is not None:
        extras.append(f"text CER {report['text_cer']:.3f}")
    if report.get("kid"):
        extras.append(f"KID {report['kid']['mean']:.4f} ± {report['kid']['std']:.4f}")
    extras.append(f"{report['ms_per_image']['mean']:.1f} ms/image")
    extras.append(f"all-correct {report['all_correct']:.3f}")
    console.print(" · ".join(extras))
    if report.get("agreement"):
        a = report["agreement"]
        console.print(f"agreement with {a['model']}: {a['checks']:.3f} (same judged outcome), "
                      f"{a['scene']:.3f} (same judged scene); {a['model']} overall "
                      f"{a['other_overall']:.3f}")
    if report.get("out_dir"):
        console.print(f"report: {report['out_dir']}/report.json · sheet: {report['sheet']}")
