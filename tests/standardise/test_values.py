"""Trimming, missing markers, spreadsheet-damaged identifiers and yes/no flags (contract 1.1)."""

from __future__ import annotations

import polars as pl
import pytest

from assets.standardise.values import (
    MISSING_MARKERS, clean_identifier, clean_identifier_values, clean_text, parse_bool, phone_number,
)


def apply(function, values: list[str | None]) -> list:
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return frame.select(function(pl.col("raw"))).to_series().to_list()


def test_clean_text_trims_nbsp_and_collapses_inner_white_space():
    raw = ["  SITI\u00a0 AMINAH ", "\tNur\n Hayati", "Jl. Raya  Indramayu\u00a0No. 5"]
    assert apply(clean_text, raw) == ["SITI AMINAH", "Nur Hayati", "Jl. Raya Indramayu No. 5"]


def test_missing_markers_become_null_in_any_case():
    raw = ["", "   ", "-", "NULL", "null", "Null", "N/A", "n/a", "\u00a0-\u00a0", None]
    assert apply(clean_text, raw) == [None] * len(raw)
    assert {"", "-", "NULL", "null", "N/A"} <= set(MISSING_MARKERS)


def test_clean_text_keeps_a_real_zero():
    # "0" is missing only for identifiers (contract 1.1); as text it is a value.
    assert apply(clean_text, ["0"]) == ["0"]


def test_clean_identifier_repairs_spreadsheet_numbers():
    raw = [
        "202500001.0",          # number that went through a float
        "3273.0541.0785.0001",  # NIK typed with dots
        "3273 0541 0785 0001",
        "3273-0541-0785-0001",
        "'0081234567",          # NISN forced to text with an apostrophe keeps its leading zero
        " 3201014107080001 ",
    ]
    assert apply(clean_identifier, raw) == [
        "202500001",
        "3273054107850001",
        "3273054107850001",
        "3273054107850001",
        "0081234567",
        "3201014107080001",
    ]


def test_clean_identifier_nulls_zeros_and_keeps_what_it_cannot_judge():
    raw = ["0", "0000000000000000", "0.0", "-", None, "3.27305E+15", "C1234567"]
    # Scientific notation is left for the NIK parser to flag; a passport number is not digits.
    assert apply(clean_identifier, raw) == [None, None, None, None, None, "3.27305E+15", "C1234567"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Y", True), ("Ya", True), ("YA", True), ("true", True), ("TRUE", True), ("1", True),
        ("YES", True), ("yes", True),
        ("T", False), ("Tidak", False), ("TIDAK", False), ("N", False), ("false", False),
        ("0", False), ("NO", False),
        ("ragu", None), ("", None), ("-", None), (None, None),
    ],
)
def test_parse_bool(raw, expected):
    assert apply(parse_bool, [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0812-3456-789", "8123456789"),
        ("+62 812 3456 789", "8123456789"),
        ("628123456789", "8123456789"),
        ("0062 812 3456 789", "8123456789"),
        ("8123456789", "8123456789"),
        # a foreign number keeps its country code
        ("+60 12-345 6789", "60123456789"),
        # placeholders and fragments say nothing
        ("0000000000", None),
        ("08888888888", None),
        ("0812", None),
        ("-", None),
        (None, None),
    ],
)
def test_phone_number_drops_country_code_and_trunk_zero(raw, expected):
    assert pl.select(phone_number(pl.lit(raw, dtype=pl.String))).item() == expected


def test_clean_identifier_values_equals_the_expression_on_every_kind_of_value():
    """The Series form cleans only what is not plain digits already; on a random mix of plain,
    zero, spaced, typed-over, float, marker, Unicode and empty values it gives what the
    expression gives, value for value."""
    import random

    rng = random.Random(3)
    pieces = ["0", "00", "1", "12", "3273054107850001", " 3273 0541 0785 0001 ", "'3273054107850001",
              "202500001.0", "202500001,00", "3.27305E+15", "-", "NULL", "nan", "", "  ", "32-12-01", "0000",
              "0012", "A123", "\u00a012\u200b", "12\t34", "१२३"]
    values = pl.Series([rng.choice(pieces) + rng.choice(["", "", "5", "0"]) if rng.random() < 0.9 else None
                        for _ in range(20_000)], dtype=pl.String)
    expected = pl.select(clean_identifier(pl.lit(values))).to_series()
    assert clean_identifier_values(values).to_list() == expected.to_list()
    plain = pl.Series(["3273054107850001", "12"])
    assert clean_identifier_values(plain).to_list() == ["3273054107850001", "12"]
