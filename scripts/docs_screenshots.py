"""Copy the screenshots docs/studio.md shows from the browser tests' output into
docs/screenshots/ (run by `make screenshots` after the tests have taken them).

    .venv/bin/python scripts/docs_screenshots.py [--from artifacts/screenshots]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "studio.md"
OUT = ROOT / "docs" / "screenshots"


def referenced() -> list[str]:
    return sorted(set(re.findall(r"\(screenshots/([\w.-]+\.png)\)", PAGE.read_text())))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="source", type=Path,
                        default=ROOT / "artifacts" / "screenshots")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    missing = [name for name in referenced() if not (args.source / name).is_file()]
    if missing:
        print(f"not taken by the tests: {', '.join(missing)}", file=sys.stderr)
        return 1
    for name in referenced():
        shutil.copyfile(args.source / name, OUT / name)
    for stale in set(p.name for p in OUT.glob("*.png")) - set(referenced()):
        (OUT / stale).unlink()
    print(f"{len(referenced())} screenshots in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
