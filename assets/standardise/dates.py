"""Dates as the sources type them (ISO, day-first, two-digit years, Indonesian month names, Excel
serial numbers) turned into pl.Date, and birth dates checked and flagged (contract section 2)."""

from __future__ import annotations

from datetime import date

import polars as pl

from .values import add_struct_fields, clean_text

_MONTHS: dict[str, int] = {
    # Indonesian, with the short forms clerks use (Agu/Agt/Ags all mean Agustus) and the old
    # P-spellings Pebruari/Nopember that older registers still carry.
    "JANUARI": 1, "JAN": 1,
    "FEBRUARI": 2, "PEBRUARI": 2, "FEB": 2, "PEB": 2,
    "MARET": 3, "MAR": 3,
    "APRIL": 4, "APR": 4,
    "MEI": 5,
    "JUNI": 6, "JUN": 6,
    "JULI": 7, "JUL": 7,
    "AGUSTUS": 8, "AGU": 8, "AGT": 8, "AGS": 8, "AGUST": 8,
    "SEPTEMBER": 9, "SEP": 9, "SEPT": 9,
    "OKTOBER": 10, "OKT": 10,
    "NOVEMBER": 11, "NOPEMBER": 11, "NOV": 11, "NOP": 11,
    "DESEMBER": 12, "DES": 12,
    # English, for exports from English-language systems.
    "JANUARY": 1, "FEBRUARY": 2, "MARCH": 3, "MAY": 5, "JUNE": 6, "JULY": 7,
    "AUGUST": 8, "AUG": 8, "OCTOBER": 10, "OCT": 10, "DECEMBER": 12, "DEC": 12,
}

_EXCEL_EPOCH = date(1899, 12, 30)
# Serial day numbers up to 80000 reach the year 2119. Four-digit numbers that read as a year are
# left out: "1985" typed in a date column is a year, not 7 June 1905.
_SERIAL_MAX = 80_000
_YEAR_LIKE = (1800, 2200)

_DEFAULT_DAY_MONTHS = ((1, 7), (31, 12), (1, 1))

_ISO = r"^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?:[ T].*)?$"
_DAY_FIRST = r"^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4}|[0-9]{2})(?:[ T][0-9:.]+)?$"
_MONTH_NAME = r"^([0-9]{1,2})[ \-/.]+([A-Z]+)\.?[ \-/.,]+([0-9]{4}|[0-9]{2})$"
_MONTH_FIRST = r"^([A-Z]+)\.?[ \-/.]+([0-9]{1,2}),?[ \-/.,]+([0-9]{4})$"  # August 17, 1985
_SERIAL = r"^([0-9]{1,5})(?:[.,][0-9]+)?$"
_YEAR_ONLY = r"^([0-9]{4})$"


def date_from_parts(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """pl.Date from integer parts, null when they are not a real calendar date (31-02-2001).

    Each part is used several times: pass columns or struct fields, not costly expressions.
    """
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days_in_month = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    real = year.is_between(1, 9999) & month.is_between(1, 12) & day.is_between(1, days_in_month)
    # pl.date raises on impossible parts even in rows a `when` discards, so those rows get a
    # harmless stand-in first.
    return pl.when(real).then(
        pl.date(
            pl.when(real).then(year).otherwise(2000),
            pl.when(real).then(month).otherwise(1),
            pl.when(real).then(day).otherwise(1),
        )
    )


def as_date_expr(reference_date: date | pl.Expr | None) -> pl.Expr:
    """A reference date given as a date, None (today) or an expression, as a pl.Date expression.

    An expression must be a Date or Datetime column: Polars 2 no longer casts text to Date.
    """
    if reference_date is None:
        reference_date = date.today()
    if isinstance(reference_date, pl.Expr):
        return reference_date.cast(pl.Date)
    return pl.lit(reference_date, dtype=pl.Date)


def year_on_or_before(
    two_digit_year: pl.Expr, month: pl.Expr, day: pl.Expr, reference: pl.Expr
) -> pl.Expr:
    """The four-digit year for a two-digit one: the latest century that puts day-month-year on or
    before the reference date (contract 1.1)."""
    # dt.month() and dt.day() are Int8: widen before arithmetic.
    ref_year, ref_month, ref_day = (
        part.cast(pl.Int64)
        for part in (reference.dt.year(), reference.dt.month(), reference.dt.day())
    )
    year = (ref_year // 100) * 100 + two_digit_year
    ref_stamp = ref_year * 10_000 + ref_month * 100 + ref_day
    after_reference = year * 10_000 + month * 100 + day > ref_stamp
    return pl.when(after_reference).then(year - 100).otherwise(year)


def _month_number(name: pl.Expr) -> pl.Expr:
    return name.replace_strict(_MONTHS, default=None, return_dtype=pl.Int64)


def _parse_date_fields(raw: pl.Expr, reference: pl.Expr) -> pl.Expr:
    """A struct whose field "date" is the parsed date; built in stages so each regex runs once."""
    f = pl.field
    staged = pl.struct(text=clean_text(raw).str.to_uppercase()).struct.with_fields(
        iso=f("text").str.extract_groups(_ISO),
        day_first=f("text").str.extract_groups(_DAY_FIRST),
        named=f("text").str.extract_groups(_MONTH_NAME),
        month_first=f("text").str.extract_groups(_MONTH_FIRST),
        serial=f("text").str.extract(_SERIAL, 1).cast(pl.Int64, strict=False),
    )

    def group(fmt: str, number: int) -> pl.Expr:
        return f(fmt).struct.field(str(number))

    # The formats exclude each other, so each part comes from whichever one matched.
    staged = staged.struct.with_fields(
        day=pl.coalesce(
            group("iso", 3), group("day_first", 1), group("named", 1), group("month_first", 2)
        ).cast(pl.Int64, strict=False),
        month=pl.coalesce(
            group("iso", 2).cast(pl.Int64, strict=False),
            group("day_first", 2).cast(pl.Int64, strict=False),
            _month_number(group("named", 2)),
            _month_number(group("month_first", 1)),
        ),
        year_text=pl.coalesce(
            group("iso", 1), group("day_first", 3), group("named", 3), group("month_first", 3)
        ),
    ).struct.with_fields(year=f("year_text").cast(pl.Int64, strict=False))
    staged = staged.struct.with_fields(
        year=pl.when(f("year_text").str.len_chars() == 2)
        .then(year_on_or_before(f("year"), f("month"), f("day"), reference))
        .otherwise(f("year"))
    )
    is_serial = f("serial").is_between(1, _SERIAL_MAX) & ~f("serial").is_between(*_YEAR_LIKE)
    return staged.struct.with_fields(
        date=pl.coalesce(
            date_from_parts(f("year"), f("month"), f("day")),
            pl.when(is_serial).then(
                pl.lit(_EXCEL_EPOCH, dtype=pl.Date) + pl.duration(days=f("serial"))
            ),
        )
    )


def parse_date(raw: pl.Expr, reference_date: date | pl.Expr | None = None) -> pl.Expr:
    """Parses a text date in any of the contract's formats; null when unparseable or impossible.

    The reference date only decides the century of two-digit years; dates after it are kept
    (standardise_birth_date is what rejects future birth dates).
    """
    return _parse_date_fields(raw, as_date_expr(reference_date)).struct.field("date")


def parse_event_date(raw: pl.Expr, reference_date: date | pl.Expr | None = None) -> pl.Expr:
    """parse_date for event dates (departure, contract end, complaint): dates after the reference
    date are valid, e.g. a planned departure."""
    return parse_date(raw, reference_date)


def standardise_birth_date(raw: pl.Expr, reference_date: date | pl.Expr | None = None) -> pl.Expr:
    """Struct{date, issue, is_default, year} for a birth date as typed.

    issue: null, "missing", "unparseable" or "after_reference_date" (the date is then null).
    is_default: the day-month is one that registers wrote for an unknown birth date (1 July,
    31 December, 1 January; domain 6.1); such a date is kept, but is best compared on year only.
    year: of the date; also filled from a year-only value ("1985"), whose date stays null.
    """
    f = pl.field
    reference = as_date_expr(reference_date)
    staged = _parse_date_fields(raw, reference).struct.with_fields(
        future=f("date") > reference,
        year_only=f("text").str.extract(_YEAR_ONLY, 1).cast(pl.Int32, strict=False),
    )
    birth_date = pl.when(~f("future")).then(f("date"))
    day_month = birth_date.dt.day().cast(pl.Int32) * 100 + birth_date.dt.month().cast(pl.Int32)
    return staged.struct.eval(
        date=birth_date,
        issue=pl.when(f("text").is_null())
        .then(pl.lit("missing"))
        .when(f("date").is_null())
        .then(pl.lit("unparseable"))
        .when(f("future"))
        .then(pl.lit("after_reference_date")),
        is_default=day_month.is_in([d * 100 + m for d, m in _DEFAULT_DAY_MONTHS]),
        year=pl.coalesce(
            birth_date.dt.year().cast(pl.Int32),
            pl.when(f("year_only").is_between(1800, reference.dt.year())).then(f("year_only")),
        ),
    )


def standardise_birth_date_column(
    df: pl.DataFrame,
    column: str,
    reference_date: date | pl.Expr | None = None,
    prefix: str = "birth",
) -> pl.DataFrame:
    """Adds {prefix}_date, {prefix}_issue, {prefix}_is_default and {prefix}_year."""
    fields = [f"{prefix}_{field}" for field in ("date", "issue", "is_default", "year")]
    return add_struct_fields(df, standardise_birth_date(pl.col(column), reference_date), fields)

