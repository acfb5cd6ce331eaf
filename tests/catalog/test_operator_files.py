"""Operator catalog files: merged over the built-in catalog in order; every error names the
file, the line and the field, and says what to write instead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from triptych.catalog.loader import builtin_catalog, load_catalog
from triptych.catalog.operator_files import CatalogFileError, merge_files
from triptych.engines.registry import binding_problem
from triptych.settings import Settings

NEW_MODEL = '''
[[model]]
id = "flux-dev"
name = "Flux Dev"
provider = "Replicate"
family = "diffusion"
tier = "fast"
credits = 3
quality = "good"
description = "Open-weights Flux on Replicate."
max_width = 1440
max_height = 1440
default_width = 1024
default_height = 1024
engine = "replicate:black-forest-labs/flux-dev"
'''


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list:
    path = write(tmp_path, "ops.toml", text)
    with pytest.raises(CatalogFileError) as info:
        merge_files(list(builtin_catalog()), [path], engine_check=binding_problem)
    return info.value.problems


def test_files_add_change_and_turn_off_models_in_order(tmp_path) -> None:
    first = write(tmp_path, "a.toml", NEW_MODEL + '''
[[model]]
id = "flux-pro"
credits = 6
tier = "medium"
description = "Our house model."

[[model]]
id = "gpt-image-1"
enabled = false
''')
    second = write(tmp_path, "b.toml", '[[model]]\nid = "flux-pro"\ncredits = 7\n')
    cards, reports = merge_files(list(builtin_catalog()), [first, second],
                                 engine_check=binding_problem)
    by_id = {c.id: c for c in cards}
    assert by_id["flux-dev"].engine == "replicate:black-forest-labs/flux-dev"
    pro = by_id["flux-pro"]
    assert (pro.credits, pro.tier, pro.description) == (7, "medium", "Our house model.")
    assert pro.name == "Flux Pro" or pro.name  # untouched fields stay the card's
    assert by_id["gpt-image-1"].enabled is False
    assert reports[0].added == ["flux-dev"] and reports[0].disabled == ["gpt-image-1"]
    assert reports[0].changed["flux-pro"]["credits"] == (5, 6)
    assert reports[1].changed == {"flux-pro": {"credits": (6, 7)}}


def test_settings_split_files_on_pathsep_and_commas(tmp_path) -> None:
    settings = Settings(home=tmp_path, _env_file=None,
                        catalog=f"a.toml{os.pathsep} b.toml,c.toml")
    assert [p.name for p in settings.catalog_files] == ["a.toml", "b.toml", "c.toml"]
    assert Settings(home=tmp_path, _env_file=None).catalog_files == ()


def test_load_catalog_merges_and_the_disabled_model_is_unavailable(tmp_path) -> None:
    from triptych.engines import registry

    path = write(tmp_path, "ops.toml", '[[model]]\nid = "flux-pro"\nenabled = false\n')
    catalog = load_catalog(extra=(path,))
    card = catalog.get("flux-pro")
    status = registry.availability(card, Settings(home=tmp_path, _env_file=None))
    assert not status.available and "administrator" in status.reason


def test_unknown_field_names_line_and_suggests(tmp_path) -> None:
    [p] = problems(tmp_path, '# prices\n[[model]]\nid = "flux-pro"\ncredit = 6\n')
    assert (p.line, p.field, p.model) == (4, "credit", "flux-pro")
    assert "did you mean 'credits'" in p.message
    assert str(p).startswith(f"{tmp_path / 'ops.toml'}:4: model 'flux-pro', field 'credit'")


def test_wrong_value_names_line_and_the_choices(tmp_path) -> None:
    found = problems(tmp_path, '[[model]]\nid = "flux-pro"\n\ntier = "superfast"\n'
                               'credits = -2\n')
    by_field = {p.field: p for p in found}
    assert by_field["tier"].line == 4
    assert "one of: instant, fast, medium, premium" in by_field["tier"].message
    assert by_field["credits"].line == 5 and "credits = 3" in by_field["credits"].message


def test_a_new_model_missing_fields_says_which_and_a_typo_id_says_so(tmp_path) -> None:
    [p] = problems(tmp_path, '[[model]]\nid = "brand-new"\nname = "Brand New"\n')
    assert p.line == 1 and p.model == "brand-new"
    assert "missing provider, family, tier" in p.message and 'tier = "fast"' in p.message
    [typo] = problems(tmp_path, '[[model]]\nid = "flux-prp"\ncredits = 6\n')
    assert "no model 'flux-prp' to change (did you mean 'flux-pro'?)" in typo.message


def test_engine_binding_is_checked_against_the_adapters(tmp_path) -> None:
    [p] = problems(tmp_path, NEW_MODEL.replace('"replicate:black-forest-labs/flux-dev"',
                                               '"replicat:flux-dev"'))
    assert p.field == "engine" and p.line == 15
    assert "no adapter for 'replicat'" in p.message and "replicate" in p.message
    [q] = problems(tmp_path, NEW_MODEL.replace("black-forest-labs/flux-dev", "flux-dev"))
    assert "is not a Replicate model (owner/name[:version])" in q.message


def test_sizes_must_agree(tmp_path) -> None:
    [p] = problems(tmp_path, NEW_MODEL.replace("default_width = 1024", "default_width = 4096"))
    assert p.field == "default_width" and p.line == 13
    assert "must lie between min_width" in p.message


def test_syntax_errors_and_shapes_name_the_line(tmp_path) -> None:
    [p] = problems(tmp_path, '[[model]]\nid = "flux-pro"\ncredits = = 6\n')
    assert p.line == 3 and "not valid TOML" in p.message
    [q] = problems(tmp_path, '[model]\nid = "flux-pro"\n')
    assert q.line == 1 and "[[model]] (two brackets)" in q.message
    [r] = problems(tmp_path, '[[models]]\nid = "x"\n')
    assert r.line == 1 and "only [[model]] tables" in r.message
    [s] = problems(tmp_path, '[[model]]\nname = "x"\n')
    assert s.field == "id" and s.line == 1


def test_an_unreadable_file_says_to_check_the_setting(tmp_path) -> None:
    with pytest.raises(CatalogFileError) as info:
        merge_files(list(builtin_catalog()), [tmp_path / "missing.toml"])
    assert "TRIPTYCH_CATALOG" in str(info.value) and "missing.toml" in str(info.value)


def test_the_documented_example_is_valid(tmp_path) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "operators" / "catalog-and-admin.md"
    example = doc.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    path = write(tmp_path, "catalog.toml", example)
    cards, [report] = merge_files(list(builtin_catalog()), [path],
                                  engine_check=binding_problem)
    assert report.added == ["flux-dev", "recraft-v3-fal"]
    assert set(report.changed) == {"flux-pro", "gpt-image-1"}
    assert report.disabled == ["gpt-image-1"]
    assert len(cards) == len(builtin_catalog()) + 2
