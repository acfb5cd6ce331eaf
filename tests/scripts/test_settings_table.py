"""scripts/settings_table.py: the README's settings table is generated from ``Settings`` and
kept current; every field is documented, and nothing else reads TRIPTYCH_* variables."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from triptych.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "settings_table.py"


def _script():
    spec = importlib.util.spec_from_file_location("settings_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_current():
    script = _script()
    readme = (ROOT / "README.md").read_text()
    assert script.render(readme) == readme, "run scripts/settings_table.py"


def test_every_setting_is_described_and_listed():
    table = _script().table()
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
        if not name.endswith(("_api_key", "_base_url")):
            assert f"`TRIPTYCH_{name.upper()}`" in table


def test_no_module_reads_triptych_variables_itself():
    """One settings object: a TRIPTYCH_* variable read straight from the environment
    anywhere but settings.py would be missing from the table and from .env files."""
    offenders = []
    for path in (ROOT / "src" / "triptych").rglob("*.py"):
        if path.name == "settings.py":
            continue
        for line in path.read_text().splitlines():
            if re.search(r"environ(\.get)?[\[(]\s*[\"']TRIPTYCH_", line):
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, offenders
