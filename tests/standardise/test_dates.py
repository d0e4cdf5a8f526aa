"""Date formats of the contract (section 2) and birth-date checks (domain 6.1, 6.3)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from assets.standardise.dates import (
    parse_date,
    parse_event_date,
    standardise_birth_date,
    standardise_birth_date_column,
)

REFERENCE = date(2026, 11, 27)


def parsed(values: list[str | None], function=parse_date, reference=REFERENCE) -> list:
    frame = pl.DataFrame({"tanggal": values}, schema={"tanggal": pl.String})
    return frame.select(function(pl.col("tanggal"), reference)).to_series().to_list()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1985-08-17", date(1985, 8, 17)),
        ("2001-05-03 00:00:00", date(2001, 5, 3)),
        ("2001-05-03T00:00:00.000", date(2001, 5, 3)),
        ("17-08-1985", date(1985, 8, 17)),
        ("17/08/1985", date(1985, 8, 17)),
        ("7/8/1985", date(1985, 8, 7)),
        ("17 Agustus 1985", date(1985, 8, 17)),
        ("17 AGUSTUS 1985", date(1985, 8, 17)),
        ("3 Agt 1990", date(1990, 8, 3)),
        ("3 Agu 1990", date(1990, 8, 3)),
        ("3 ags 1990", date(1990, 8, 3)),
        ("1 Mei 2001", date(2001, 5, 1)),
        ("10 Okt 1999", date(1999, 10, 10)),
        ("25 Desember 1980", date(1980, 12, 25)),
        ("5 Pebruari 1975", date(1975, 2, 5)),
        ("12-Des-1999", date(1999, 12, 12)),
        ("August 17, 1985", date(1985, 8, 17)),
        ("17 March 1985", date(1985, 3, 17)),
        # Two-digit years: the century that puts the date on or before the reference date.
        ("05-06-07", date(2007, 6, 5)),
        ("05-06-27", date(1927, 6, 5)),
        ("27-11-26", date(2026, 11, 27)),
        ("28-11-26", date(1926, 11, 28)),
        ("3 Agt 90", date(1990, 8, 3)),
        # Excel serial days, epoch 1899-12-30. 31245 is Wednesday 17 July 1985 (the brief's
        # "1985-07-18" is one day off: 1985-07-18 is serial 31246).
        ("31245", date(1985, 7, 17)),
        ("31245.0", date(1985, 7, 17)),
        ("31246", date(1985, 7, 18)),
        ("29 Februari 2000", date(2000, 2, 29)),
    ],
)
def test_formats(raw, expected):
    assert parsed([raw]) == [expected]


def test_serial_epoch_matches_python():
    assert parsed(["1", "45000"]) == [date(1899, 12, 31), date(1899, 12, 30) + timedelta(45000)]


@pytest.mark.parametrize(
    "raw",
    ["31-02-2001", "29-02-1900", "00-01-1990", "15-13-1990", "17 Xyz 1985", "abc", "1985", "0", "", "-", None],
)
def test_impossible_or_unparseable_dates_are_null(raw):
    # "1985" alone is a year, not Excel serial 1985 (7 June 1905).
    assert parsed([raw]) == [None]


def test_event_dates_may_lie_in_the_future():
    assert parsed(["15-03-2027", "2030-01-01"], parse_event_date) == [date(2027, 3, 15), date(2030, 1, 1)]


def test_reference_date_may_be_a_column():
    frame = pl.DataFrame({"tanggal": ["05-06-07", "05-06-07"], "delivery": [date(2026, 11, 27), date(2006, 1, 1)]})
    result = frame.select(parse_date(pl.col("tanggal"), pl.col("delivery"))).to_series().to_list()
    assert result == [date(2007, 6, 5), date(1907, 6, 5)]


def birth(raw: str | None) -> dict:
    frame = pl.DataFrame({"tanggal_lahir": [raw]}, schema={"tanggal_lahir": pl.String})
    return frame.select(standardise_birth_date(pl.col("tanggal_lahir"), REFERENCE).alias("r")).item(0, "r")


def test_ordinary_birth_date():
    assert birth("17-08-1985") == {"date": date(1985, 8, 17), "issue": None, "is_default": False, "year": 1985}


@pytest.mark.parametrize("raw", ["01-07-1970", "31/12/1950", "1 Januari 1960", "1960-01-01"])
def test_registry_default_dates_are_flagged_but_kept(raw):
    result = birth(raw)
    assert result["is_default"] is True and result["date"] is not None and result["issue"] is None
    assert result["year"] == result["date"].year


def test_birth_date_issues():
    assert birth(None) == {"date": None, "issue": "missing", "is_default": None, "year": None}
    assert birth("-") == {"date": None, "issue": "missing", "is_default": None, "year": None}
    assert birth("31-02-2001") == {"date": None, "issue": "unparseable", "is_default": None, "year": None}
    assert birth("12 Desember 2030") == {
        "date": None, "issue": "after_reference_date", "is_default": None, "year": None,
    }


def test_a_year_alone_keeps_the_year():
    assert birth("1985") == {"date": None, "issue": "unparseable", "is_default": None, "year": 1985}


def test_birth_date_column_unnests_with_prefix():
    frame = pl.DataFrame({"tanggal_lahir": ["01-07-1970", "x"]})
    out = standardise_birth_date_column(frame, "tanggal_lahir", REFERENCE, prefix="dob")
    assert out.columns == ["tanggal_lahir", "dob_date", "dob_issue", "dob_is_default", "dob_year"]
    assert out.row(0) == ("01-07-1970", date(1970, 7, 1), None, True, 1970)
    assert out.row(1) == ("x", None, "unparseable", None, None)
