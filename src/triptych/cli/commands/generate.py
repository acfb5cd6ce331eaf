"""``triptych generate``, ``rerender`` and ``compare``: the verbs that make images."""

from __future__ import annotations

import json

import click

from triptych.catalog.card import credits_text
from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option, user_option
from triptych.cli.progress_bar import job_progress


def parse_options(pairs: tuple[str, ...]) -> dict[str, object]:
    """``NAME=VALUE`` pairs; a value reads as JSON when it is JSON (6, true, "x"), else as
    text. The model checks names and values."""
    options: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--option")
        try:
            options[name.strip()] = json.loads(raw)
        except ValueError:
            options[name.strip()] = raw
    return options


def _print_generation(out, tp) -> None:
    credits = tp.credits(statement=False)
    for location in out.locations:  # a file path, or s3://… when images live in object storage
        console.print(f"[bold green]Saved[/] {location}", highlight=False)
    seconds = f"{out.seconds:.2f} s" if out.seconds is not None else "-"
    console.print(f"{out.job['model']} · seed {out.job['seed']} · {out.job['size']} · "
                  f"{credits_text(out.job['charged'])} · {seconds} · job {out.id}", highlight=False)
    console.print(f"{credits['available']} credits left (renews {credits['renews_on']})",
                  highlight=False)


@click.command("generate")
@click.argument("prompt")
@click.option("--model", "-m", help="Model id (see `triptych models`); default: the cheapest "
              "instant built-in model.")
@click.option("--seed", type=int, help="Same seed + same model = same image.")
@click.option("--size", help="WIDTHxHEIGHT, e.g. 64x64 or 1024x1024.")
@click.option("-n", "n", type=int, default=1, show_default=True, help="Images to make.")
@click.option("--steps", type=int, help="Sampling steps (built-in models).")
@click.option("--mode", "content_mode", type=click.Choice(["standard", "unrestricted"]),
              default="standard", show_default=True)
@click.option("--idempotency-key", help="Retry-safe submit: the same key returns the same job.")
@click.option("--option", "-o", "option_pairs", multiple=True, metavar="NAME=VALUE",
              help="A model option, e.g. -o guidance=6 (repeatable; `triptych models --json` "
                   "lists each model's).")
@user_option
@json_option
@handle_errors
def generate(prompt, model, seed, size, n, steps, content_mode, idempotency_key, option_pairs,
             user_email, as_json) -> None:
    """Make images from PROMPT. Quotes, holds and charges credits; refunds on failure."""
    tp = app(user_email)
    options = parse_options(option_pairs)
    with job_progress(f"Generating with {model or tp.default_model()}", not as_json) as bar:
        out = tp.generate(prompt, model, seed=seed, size=size, n=n, steps=steps,
                          content_mode=content_mode, idempotency_key=idempotency_key,
                          progress=bar, options=options or None)
    if as_json:
        emit_json(out.job)
    else:
        _print_generation(out, tp)


@click.command("rerender")
@click.argument("job_id")
@click.option("--model", "-m", required=True, help="The model for the final render.")
@click.option("--size", help="Override the size (default: carried over or the model default).")
@user_option
@json_option
@handle_errors
def rerender(job_id, model, size, user_email, as_json) -> None:
    """Re-run a stored generation's prompt, seed and size on another model (draft → final)."""
    tp = app(user_email)
    with job_progress(f"Re-rendering on {model}", not as_json) as bar:
        out = tp.rerender(job_id, model, size=size, progress=bar)
    if as_json:
        emit_json(out.job)
    else:
        _print_generation(out, tp)


@click.command("compare")
@click.argument("prompt")
@click.option("--models", "models_csv", required=True, help="Two to four ids, comma-separated.")
@click.option("--seed", type=int, help="One seed for every model (random if omitted).")
@click.option("--size", help="WIDTHxHEIGHT for every model (default: each model's own).")
@user_option
@json_option
@handle_errors
def compare(prompt, models_csv, seed, size, user_email, as_json) -> None:
    """Run PROMPT on several models with the same seed; save a labelled side-by-side sheet."""
    tp = app(user_email)
    models = [m.strip() for m in models_csv.split(",") if m.strip()]
    with job_progress(f"Comparing {len(models)} models", not as_json) as bar:
        out = tp.compare(prompt, models, seed=seed, size=size, progress=bar)
    if as_json:
        emit_json({"id": out.id, "prompt": out.prompt, "seed": out.seed,
                   "total_cost": out.total_cost,
                   "sheet": out.sheet_location,
                   "results": [r.job for r in out.results], "failures": out.failures})
        return
    for result in out.results:
        charged = credits_text(result.job["charged"])
        console.print(f"[bold]{result.job['model']:<22}[/] {charged:>11}  "
                      f"{result.seconds:6.2f} s  {result.locations[0]}", highlight=False)
    for failed in out.failures:
        console.print(f"[bold red]{failed['model']:<22}[/] refunded: "
                      f"{failed['error']['message']}", highlight=False)
    if out.sheet_location:
        console.print(f"[bold green]Sheet[/] {out.sheet_location}", highlight=False)
    console.print(f"Total {out.total_cost} credits · seed {out.seed} · compare {out.id}",
                  highlight=False)


COMMANDS = [generate, rerender, compare]
