"""The README's settings table, generated from ``triptych.settings.Settings``.

    .venv/bin/python scripts/settings_table.py          # rewrite the table in README.md
    .venv/bin/python scripts/settings_table.py --check  # exit 1 if README.md is stale

The table sits between ``<!-- settings:start -->`` and ``<!-- settings:end -->``. Provider
keys and base URLs are one row each for all providers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import SecretStr

from triptych.settings import PROVIDERS, Settings

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
SHOWN_DEFAULTS = {"home": "`~/.triptych`"}  # computed per machine


def _default(name: str, field) -> str:
    if name in SHOWN_DEFAULTS:
        return SHOWN_DEFAULTS[name]
    value = field.get_default(call_default_factory=False)
    if value is None or isinstance(value, SecretStr):
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    provider_fields = {f"{p}_{kind}" for p in PROVIDERS for kind in ("api_key", "base_url")}
    for name, field in Settings.model_fields.items():
        if name in provider_fields:
            continue
        rows.append(f"| `TRIPTYCH_{name.upper()}` | {_default(name, field)} | "
                    f"{field.description} |")
    names = ", ".join(p.upper() for p in PROVIDERS)
    rows.append(f"| `TRIPTYCH_<PROVIDER>_API_KEY` | unset | The provider's API key, for "
                f"<PROVIDER> in {names}; without it the provider's models are listed as "
                "unavailable. |")
    rows.append("| `TRIPTYCH_<PROVIDER>_BASE_URL` | the provider's public API | Another "
                "endpoint for the same API (a proxy, a regional endpoint, a test server). |")
    return "\n".join(rows)


def render(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args()
    text = README.read_text()
    fresh = render(text)
    if args.check:
        if fresh != text:
            print("README.md's settings table is stale: run scripts/settings_table.py")
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
