"""NIK (Nomor Induk Kependudukan) checked by its structure, PP KK CC DDMMYY SSSS, and decoded into
sex, birth date and the region where it was first issued (domain 1.1)."""

from __future__ import annotations

from datetime import date

import polars as pl
from lokal import PROVINCES

from .dates import as_date_expr, date_from_parts, parse_date, year_on_or_before
from .values import add_struct_fields, clean_text, identifier_text

PROVINCE_CODES: tuple[str, ...] = tuple(sorted(PROVINCES))

# The issue codes, in the order the checks run: a NIK gets the first one that applies.
NIK_ISSUES: tuple[str, ...] = (
    "missing",
    "excel_scientific",
    "not_digits",
    "wrong_length",
    "repeated_digit",
    "bad_province",
    "bad_regency",
    "bad_district",
    "bad_birth_date",
    "zero_serial",
)

NIK_FIELDS: tuple[str, ...] = (
    "nik",
    "issue",
    "sex",
    "birth_date",
    "region_code",
    "excel_last_digit_suspect",
)

_SCIENTIFIC = r"^([0-9])[.,]([0-9]*)E\+?([0-9]+)$"
_REPEATED_DIGIT = "^(?:" + "|".join(f"{d}+" for d in range(10)) + ")$"


def standardise_nik(
    raw: pl.Expr,
    birth_date: pl.Expr | None = None,
    reference_date: pl.Expr | date | None = None,
) -> pl.Expr:
    """Struct{nik, issue, sex, birth_date, region_code, excel_last_digit_suspect} for a raw NIK.

    nik is the 16 digits when the structure is valid, else null, with `issue` saying why (one of
    NIK_ISSUES). sex, birth_date and region_code are decoded only from a valid NIK. The NIK's
    two-digit birth year takes the century of `birth_date` (the record's own birth date, pl.Date)
    when their last two digits agree, otherwise the latest century that puts the date on or before
    `reference_date` (default: today). A NIK keeps the region and birth date it was issued with,
    so both may legitimately differ from the record's (domain 1.1).

    Pass the raw text: cleaning it first with clean_identifier removes the ".0" that
    excel_last_digit_suspect looks for, and turns an all-zero NIK into "missing".

    Built in stages (struct.with_fields) so that every intermediate is computed once.
    """
    f = pl.field
    reference = as_date_expr(reference_date)
    record_year = (
        pl.lit(None, dtype=pl.Int64)
        if birth_date is None
        else birth_date.cast(pl.Date).dt.year().cast(pl.Int64)
    )
    staged = pl.struct(
        cleaned=clean_text(raw),
        text=identifier_text(raw),
        record_year=record_year,
    ).struct.with_fields(scientific=f("text").str.to_uppercase().str.extract_groups(_SCIENTIFIC))
    head, fraction, exponent = (f("scientific").struct.field(str(i)) for i in (1, 2, 3))
    staged = staged.struct.with_fields(
        # A mantissa that still holds 15 or 16 digits (3.27301170885001E+15) gives the NIK back,
        # its last digit lost to 0 (Excel keeps 15), which excel_last_digit_suspect then says.
        # A shorter one (3.27305E+15) cannot be recovered.
        from_scientific=pl.when((exponent == "15") & fraction.str.len_chars().is_between(14, 15))
        .then((head + fraction).str.pad_end(16, "0"))
    )
    staged = staged.struct.with_fields(
        digits=pl.coalesce(f("from_scientific"), f("text")),
        # Text that went through a float (".0" or "E+") may have lost its last digit to Excel.
        had_float_form=f("cleaned").str.contains(r"(?i)(?:[.,]0+|E\+?[0-9]+)$"),
    )
    staged = staged.struct.with_fields(
        day_raw=f("digits").str.slice(6, 2).cast(pl.Int64, strict=False),
        month=f("digits").str.slice(8, 2).cast(pl.Int64, strict=False),
        year_2=f("digits").str.slice(10, 2).cast(pl.Int64, strict=False),
    ).struct.with_fields(
        is_female=f("day_raw") > 40,
        day=pl.when(f("day_raw") > 40).then(f("day_raw") - 40).otherwise(f("day_raw")),
    )
    digits, month, day, year_2 = f("digits"), f("month"), f("day"), f("year_2")
    staged = staged.struct.with_fields(
        # The date must exist in one of the two centuries; only 29-02-00 tells them apart.
        real_in_a_century=date_from_parts(2000 + year_2, month, day).is_not_null()
        | date_from_parts(1900 + year_2, month, day).is_not_null(),
        year=pl.when(f("record_year") % 100 == year_2)
        .then(f("record_year"))
        .otherwise(year_on_or_before(year_2, month, day, reference)),
    )
    staged = staged.struct.with_fields(
        issue=pl.when(digits.is_null() | digits.str.contains(r"^0{1,15}$"))
        .then(pl.lit("missing"))
        .when(digits.str.contains(r"(?i)^[0-9][.,]?[0-9]*E\+?[0-9]+$"))
        .then(pl.lit("excel_scientific"))
        .when(~digits.str.contains(r"^[0-9]+$"))
        .then(pl.lit("not_digits"))
        .when(digits.str.len_chars() != 16)
        .then(pl.lit("wrong_length"))
        .when(digits.str.contains(_REPEATED_DIGIT))
        .then(pl.lit("repeated_digit"))
        .when(~digits.str.slice(0, 2).is_in(PROVINCE_CODES))
        .then(pl.lit("bad_province"))
        .when(digits.str.slice(2, 2) == "00")
        .then(pl.lit("bad_regency"))
        .when(digits.str.slice(4, 2) == "00")
        .then(pl.lit("bad_district"))
        .when(~f("real_in_a_century"))
        .then(pl.lit("bad_birth_date"))
        .when(digits.str.slice(12, 4) == "0000")
        .then(pl.lit("zero_serial")),
        # 29-02-00 put in 1900 does not exist; it can only be 2000.
        decoded=pl.coalesce(
            date_from_parts(f("year"), month, day), date_from_parts(f("year") + 100, month, day)
        ),
    ).struct.with_fields(valid=f("issue").is_null())
    valid = f("valid")
    return staged.struct.eval(
        nik=pl.when(valid).then(digits),
        issue=f("issue"),
        sex=pl.when(valid).then(pl.when(f("is_female")).then(pl.lit("P")).otherwise(pl.lit("L"))),
        birth_date=pl.when(valid).then(f("decoded")),
        region_code=pl.when(valid).then(digits.str.slice(0, 6)),
        excel_last_digit_suspect=(
            valid
            & digits.str.ends_with("0")
            & (f("had_float_form") | f("from_scientific").is_not_null())
        ).fill_null(False),
    )


def standardise_nik_column(
    df: pl.DataFrame,
    column: str,
    birth_date_col: str | None = None,
    reference_date: pl.Expr | date | None = None,
    prefix: str = "nik",
) -> pl.DataFrame:
    """Adds {prefix}, {prefix}_issue, {prefix}_sex, {prefix}_birth_date, {prefix}_region and
    {prefix}_excel_suspect, replacing columns of those names (the raw column too, when `column`
    equals `prefix`: keep the raw value under another name if it is still needed).

    birth_date_col may be a pl.Date column or raw text (parsed with parse_date).
    """
    birth_date = None
    if birth_date_col is not None:
        birth_date = pl.col(birth_date_col)
        if df.schema[birth_date_col] != pl.Date:
            birth_date = parse_date(birth_date, reference_date)
    struct = standardise_nik(pl.col(column), birth_date, reference_date)
    names = [prefix] + [
        f"{prefix}_{suffix}"
        for suffix in ("issue", "sex", "birth_date", "region", "excel_suspect")
    ]
    return add_struct_fields(df, struct, names)
