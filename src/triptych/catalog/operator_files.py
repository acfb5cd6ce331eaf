"""Operator catalog files (``TRIPTYCH_CATALOG``): TOML merged over the built-in catalog.

A file holds ``[[model]]`` tables, applied in order (files in the order named, tables in file
order):

- an ``id`` not in the catalog yet adds a model: every required card field must be there;
- an ``id`` already there changes that model: only the fields written change (``credits``,
  ``tier``, ``description``, ``enabled = false`` to turn it off, ...).

Errors name the file, the line and the field, and say what to write instead. tomllib gives
a line only for syntax errors; for a value that parses but is wrong, the line is found here
from the table's ``[[model]]`` header and the key inside it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triptych.catalog.card import ModelCard
from triptych.errors import TriptychError

# A complete card, as a file would write it: every hint quotes its line.
EXAMPLE: dict[str, str] = {
    "id": '"flux-dev"', "name": '"Flux Dev"', "provider": '"Replicate"',
    "family": '"diffusion"', "tier": '"fast"', "credits": "3", "quality": '"good"',
    "description": '"What it is and what it is for, in plain words."',
    "strengths": '["photographs"]', "weaknesses": '["slow on large sizes"]',
    "best_for": '["photoreal"]', "capabilities": '["photorealism"]',
    "max_width": "1440", "max_height": "1440", "min_width": "256", "min_height": "256",
    "default_width": "1024", "default_height": "1024", "max_n": "4", "takes_seed": "true",
    "default_steps": "28", "max_steps": "50",
    "engine": '"replicate:black-forest-labs/flux-dev"', "version": '""', "builtin": "false",
    "enabled": "true",
}
REQUIRED = [name for name, f in ModelCard.model_fields.items() if f.is_required()]
_HEADER = re.compile(r"^\s*\[\[\s*model\s*\]\]")
_TABLE = re.compile(r"^\s*\[")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_SIZE_FIELD = re.compile(r"\b(default_(?:width|height))\b")


@dataclass(frozen=True)
class CatalogProblem:
    """One thing wrong in a catalog file, where it is, and what to write instead."""

    path: str
    line: int | None
    field: str | None
    model: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = ", ".join(part for part in (
            f"model '{self.model}'" if self.model else "",
            f"field '{self.field}'" if self.field else "") if part)
        return f"{where}: {what + ': ' if what else ''}{self.message}"

    def public(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "field": self.field,
                "model": self.model, "message": self.message}


class CatalogFileError(TriptychError):
    code = "catalog_invalid"

    def __init__(self, problems: list[CatalogProblem]) -> None:
        self.problems = problems
        super().__init__("The catalog files (TRIPTYCH_CATALOG) have errors:\n" +
                         "\n".join(f"  {p}" for p in problems),
                         problems=[p.public() for p in problems])


@dataclass
class FileReport:
    """What one file did to the catalog."""

    path: str
    added: list[str] = field(default_factory=list)
    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)  # old, new

    @property
    def disabled(self) -> list[str]:
        return [m for m, fields in self.changed.items()
                if "enabled" in fields and fields["enabled"][1] is False]

    def public(self) -> dict[str, Any]:
        return {"path": self.path, "added": self.added,
                "changed": {m: {f: {"old": o, "new": n} for f, (o, n) in fields.items()}
                            for m, fields in self.changed.items()},
                "disabled": self.disabled}


EngineCheck = Callable[[str], str]  # engine binding -> what is wrong with it ("" = fine)


def hint(name: str) -> str:
    """What to write for a field: an example line, and the choices when there are some."""
    if name not in ModelCard.model_fields:
        close = difflib.get_close_matches(name, ModelCard.model_fields, n=1)
        return (f"did you mean '{close[0]}'? " if close else "") + \
            f"card fields are: {', '.join(ModelCard.model_fields)}"
    example = f"write e.g. {name} = {EXAMPLE.get(name, '...')}"
    choices = _choices(ModelCard.model_fields[name].annotation)
    return f"{example} (one of: {', '.join(choices)})" if choices else example


def _choices(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    if typing.get_origin(annotation) is list:
        return _choices(typing.get_args(annotation)[0])
    return []


class _Lines:
    """Where tables and keys are in a file's text (1-based lines)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [i for i, line in enumerate(self.lines) if _HEADER.match(line)]

    def table(self, index: int) -> int | None:
        return self.headers[index] + 1 if index < len(self.headers) else None

    def key(self, index: int, key: str) -> int | None:
        if index >= len(self.headers):
            return None
        start = self.headers[index]
        name = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:{name}|"{name}"|'{name}')\s*=""")
        for i in range(start + 1, len(self.lines)):
            if _TABLE.match(self.lines[i]):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1

    def top_level(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*(?:\[+\s*{re.escape(key)}\s*\]+|{re.escape(key)}\s*=)")
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), None)


def merge_files(base: Sequence[ModelCard], paths: Sequence[Path | str], *,
                engine_check: EngineCheck | None = None
                ) -> tuple[list[ModelCard], list[FileReport]]:
    """The catalog with every file applied, and what each file did; ``CatalogFileError``
    with every problem of every file when any has one."""
    cards = {card.id: card for card in base}
    problems: list[CatalogProblem] = []
    reports = []
    for path in paths:
        report, found = _apply(Path(path), cards, engine_check)
        reports.append(report)
        problems.extend(found)
    if problems:
        raise CatalogFileError(problems)
    return list(cards.values()), reports


def _apply(path: Path, cards: dict[str, ModelCard], engine_check: EngineCheck | None
           ) -> tuple[FileReport, list[CatalogProblem]]:
    name = str(path)
    report = FileReport(name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        return report, [CatalogProblem(name, None, None, None,
                                       f"cannot read the file ({reason}); check the path in "
                                       f"TRIPTYCH_CATALOG")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        return report, [CatalogProblem(
            name, int(match.group(1)) if match else None, None, None,
            f"not valid TOML: {_TOML_LINE.sub('', str(exc)).strip()}; each model is a "
            f"[[model]] table of key = value lines")]
    lines = _Lines(text)
    problems: list[CatalogProblem] = []
    for key in data:
        if key != "model":
            problems.append(CatalogProblem(
                name, lines.top_level(key), key, None,
                "a catalog file holds only [[model]] tables; move this into one"))
    entries = data.get("model", [])
    if isinstance(entries, dict):
        return report, problems + [CatalogProblem(
            name, lines.top_level("model"), None, None,
            "write [[model]] (two brackets): each model is one entry of an array of tables")]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(CatalogProblem(name, lines.top_level("model"), None, None,
                                           "each model must be a [[model]] table"))
            continue
        problems.extend(_apply_entry(name, lines, index, entry, cards, report, engine_check))
    return report, problems


def _apply_entry(name: str, lines: _Lines, index: int, entry: dict[str, Any],
                 cards: dict[str, ModelCard], report: FileReport,
                 engine_check: EngineCheck | None) -> list[CatalogProblem]:
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id.strip():
        return [CatalogProblem(name, lines.key(index, "id") if "id" in entry
                               else lines.table(index), "id", None,
                               f"every [[model]] needs an id: {hint('id')}")]

    def problem(field_name: str | None, message: str) -> CatalogProblem:
        line = lines.key(index, field_name) if field_name in entry else lines.table(index)
        return CatalogProblem(name, line, field_name, model_id, message)

    unknown = [k for k in entry if k not in ModelCard.model_fields]
    if unknown:
        return [problem(k, f"unknown field: {hint(k)}") for k in unknown]
    old = cards.get(model_id)
    values = {**old.model_dump(), **entry} if old is not None else dict(entry)
    try:
        card = ModelCard(**values)
    except ValidationError as exc:
        errors = exc.errors()
        missing = [str(e["loc"][0]) for e in errors if e.get("type") == "missing"]
        found = [_from_pydantic(e, problem) for e in errors if e.get("type") != "missing"]
        if missing:
            close = difflib.get_close_matches(model_id, cards, n=1)
            meant = (f"there is no model '{model_id}' to change (did you mean "
                     f"'{close[0]}'?); to add it as a new model, " if close else
                     "a new model needs every one of " + ", ".join(REQUIRED) + "; ")
            examples = "; ".join(f"{m} = {EXAMPLE[m]}" for m in missing)
            found.insert(0, problem(None, f"{meant}missing {', '.join(missing)}: write e.g. "
                                          f"{examples}"))
        return found
    if engine_check is not None and (old is None or "engine" in entry):
        trouble = engine_check(card.engine)
        if trouble:
            return [problem("engine", f"{trouble}; {hint('engine')}")]
    cards[model_id] = card
    if old is None:
        report.added.append(model_id)
    else:
        diff = {k: (getattr(old, k), getattr(card, k)) for k in entry
                if k != "id" and getattr(old, k) != getattr(card, k)}
        if diff:
            report.changed.setdefault(model_id, {}).update(diff)
    return []


def _from_pydantic(error: Any, problem: Callable[..., CatalogProblem]) -> CatalogProblem:
    loc = error.get("loc") or ()
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if not loc:  # a check across fields (the sizes): name the field it mentions
        found = _SIZE_FIELD.search(message)
        return problem(found.group(1) if found else None, f"{message}; change one of them")
    field_name = str(loc[0])
    if len(loc) > 1:
        message = f"item {loc[1]}: {message}"
    return problem(field_name, f"{message}; {hint(field_name)}")
