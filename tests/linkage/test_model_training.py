"""Levels that training set to zero are reported: a zero m is a cannot-link nobody asked for."""

from __future__ import annotations

import copy

import pytest

from assets.linkage.model import collapsed_levels
from assets.linkage.rules import load_rules


def trained_like(rules, m_of: dict[tuple[str, str], float]) -> dict:
    """The rules' comparisons as a saved model would hold them, every level at m 0.1 unless given."""
    model = {"comparisons": copy.deepcopy(rules.raw["comparisons"])}
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level") and not level.get("fix_m_probability"):
                level["m_probability"] = m_of.get((comparison["output_column_name"], level["label_for_charts"]), 0.1)
    return model


def test_a_level_em_set_to_zero_is_reported():
    rules = load_rules()
    model = trained_like(rules, {("nik", "NIK different"): 4.1e-27, ("place", "same village"): 6.1e-32})
    assert collapsed_levels(model) == ["nik: NIK different (m 4.1e-27)", "place: same village (m 6.1e-32)"]


def test_a_level_the_rules_fix_is_never_reported():
    # "same regency" is fixed at m 0.005 in the file; a model file edited by hand to 1e-32 is the
    # rules' business, not training's
    rules = load_rules()
    model = trained_like(rules, {})
    place = next(c for c in model["comparisons"] if c["output_column_name"] == "place")
    next(lvl for lvl in place["comparison_levels"] if lvl["label_for_charts"] == "same regency")["m_probability"] = 1e-32
    assert collapsed_levels(model) == []


def test_levels_the_rules_fix_near_zero_are_not_reported():
    rules = load_rules()
    model = trained_like(rules, {})
    # the cannot-link levels (twins, a generation apart, one card with different names) keep m 1e-9
    fixed_near_zero = [
        level for c in model["comparisons"] for level in c["comparison_levels"]
        if level.get("fix_m_probability") and level["m_probability"] < 1e-6
    ]
    assert len(fixed_near_zero) >= 4
    assert collapsed_levels(model) == []


def test_u_from_value_frequencies_counts_agreeing_pairs_among_records_with_a_value():
    import polars as pl
    from assets.linkage.model import frequency_u

    # a twice (1 agreeing pair of 4 * 3 / 2 = 6): 1/6; the null is no record with a value
    assert frequency_u(pl.Series(["a", "a", "b", None, "c"])) == pytest.approx(2 / 12)
    assert frequency_u(pl.Series(["a", "a", "a", "b"])) == pytest.approx(6 / 12)
    # every value unique: counted as one agreeing pair, never a u of zero (an infinite weight)
    assert frequency_u(pl.Series([str(i) for i in range(1000)])) == pytest.approx(2 / (1000 * 999))
    assert frequency_u(pl.Series(["a", None], dtype=pl.String)) is None


def test_splink_gets_the_rules_without_padu_s_own_level_key():
    rules = load_rules()
    assert set(rules.u_from_value_frequencies()) == {
        ("nik", "NIK equal"), ("passport", "same passport"), ("splp", "same SPLP"), ("phone", "same phone")}
    settings = rules.splink_settings()
    assert not any("u_from_value_frequencies" in level
                   for c in settings["comparisons"] for level in c["comparison_levels"])
    assert any("u_from_value_frequencies" in level  # the rules themselves are left as they are
               for c in rules.raw["comparisons"] for level in c["comparison_levels"])


def test_a_level_neither_fixed_nor_trained_is_listed_with_what_it_lacks():
    from assets.linkage.model import untrained_levels

    rules = load_rules()
    model = trained_like(rules, {})
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                level.setdefault("u_probability", 0.01)
    nik = next(c for c in model["comparisons"] if c["output_column_name"] == "nik")
    excel = next(lvl for lvl in nik["comparison_levels"] if lvl["label_for_charts"].startswith("NIK equal but"))
    del excel["m_probability"]
    twins = next(lvl for lvl in nik["comparison_levels"] if "twins" in lvl["label_for_charts"])
    del twins["u_probability"]
    assert untrained_levels(model) == [
        "nik: NIK equal but a last digit 0 (Excel) (m)",
        "nik: NIK neighbouring serials, names differ (twins) (u)",
    ]
