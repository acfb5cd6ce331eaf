"""Render the models guide's example image of every built-in model.

One fixed prompt and seed per model, through the same job road as any user's image (a
throwaway home: its own database and store), written to
``src/triptych/web/static/examples/<model>.png`` at the models' native 64x64 (the page scales
them up with crisp pixels). Re-run after retraining a model and commit the images:

    python scripts/make_model_examples.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "triptych" / "web" / "static" / "examples"
# Inside every built-in model's world (shapes, colours, a background), so each one shows
# what it does with the same request.
PROMPT = "a red circle and a yellow star on a blue background"
SEED = 7


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    from triptych.client import Triptych
    from triptych.settings import Settings

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        tp = Triptych(Settings(home=Path(home), _env_file=None))
        tp.grant(tp.user_email, 1000, reason="model examples")
        for card in (c for c in tp.catalog if c.builtin):
            result = tp.generate(args.prompt, card.id, seed=args.seed)
            data = tp.image_bytes(result.images[0]["id"])
            target = args.out / f"{card.id}.png"
            target.write_bytes(data)
            print(f"{card.id}: {target} ({len(data)} bytes)")
        tp.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
