"""Plans and packs as data: the built-in file, an operator's file merged over it, errors that
name the file and the field."""

from __future__ import annotations

import pytest

from triptych.catalog.plans import PlansError, load_plans


def test_builtin_plans_and_packs():
    book = load_plans()
    free, pro = book.get("free"), book.get("pro")
    assert (free.monthly_credits, pro.monthly_credits) == (50, 500)
    assert pro.priority < free.priority and pro.unrestricted and not free.unrestricted
    assert free.size_refusal(2048, 2048) is None
    assert "Free plan" in free.size_refusal(4096, 1024) and "2048x2048" in free.size_refusal(
        4096, 1024)
    assert book.best_paid().id == "pro" and not free.for_sale
    assert all(p.credits > 0 and p.for_sale for p in book.packs.values())
    assert book.get("gone").id == "free"  # a plan removed from the file falls back to free


def test_settings_set_the_builtin_allowances_and_the_file_wins(tmp_path):
    assert load_plans(free_monthly=10, pro_monthly=99).monthly_grants() == {"free": 10,
                                                                           "pro": 99}
    extra = tmp_path / "plans.toml"
    extra.write_text("""
[plans.pro]
monthly_credits = 800

[plans.team]
name = "Team"
monthly_credits = 2000
priority = 0
unrestricted = true
max_pixels = 16777216
price_cents = 5000

[packs.small]
enabled = false

[packs.huge]
name = "10,000 credits"
credits = 10000
price_cents = 6000
""")
    book = load_plans(extra, pro_monthly=99)
    assert book.get("pro").monthly_credits == 800
    assert book.get("pro").unrestricted  # fields not named keep the built-in value
    assert book.get("team").max_pixels == 16777216 and book.best_paid().id == "team"
    assert set(book.packs) == {"large", "huge"}


@pytest.mark.parametrize("text, words", [
    ("[plans.pro]\nmonthly_credits = -5\n", ["plans.toml", "[plans.pro]", "monthly_credits"]),
    ("[plans.pro]\ncolour = 'red'\n", ["[plans.pro]", "colour"]),
    ("[packs.x]\nname = 'X'\n", ["[packs.x]", "credits"]),
    ("[plans.free]\nenabled = false\n", ["free"]),
    ("[plan.pro]\n", ["unknown table", "plan"]),
    ("[plans.pro\n", ["plans.toml"]),
])
def test_bad_files_name_the_file_and_field(tmp_path, text, words):
    extra = tmp_path / "plans.toml"
    extra.write_text(text)
    with pytest.raises(PlansError) as exc:
        load_plans(extra)
    for word in words:
        assert word in str(exc.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(PlansError, match="nope.toml"):
        load_plans(tmp_path / "nope.toml")


def test_every_models_default_size_fits_the_free_plan():
    from triptych.catalog.loader import load_catalog

    free = load_plans().get("free")
    too_big = [c.id for c in load_catalog()
               if free.size_refusal(c.default_width, c.default_height)]
    assert too_big == []  # a model picked without a size never refuses a free account
