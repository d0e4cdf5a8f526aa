"""Cleaning of single text values as the sources deliver them: trimming, missing markers,
identifiers damaged by spreadsheets, and yes/no flags (source contract section 1.1). Also the
one helper the *_column functions share to turn a standardiser's struct into columns."""

from __future__ import annotations

import polars as pl

# Compared after trimming and in any letter case ("nUlL" too). "NAN", "NONE" and "#N/A" are what
# pandas, Python and Excel write for an empty cell.
MISSING_MARKERS: tuple[str, ...] = (
    "",
    "-",
    "--",
    "NULL",
    "null",
    "Null",
    "N/A",
    "n/a",
    "#N/A",
    "NAN",
    "NaN",
    "nan",
    "NONE",
    "None",
)


def _every_casing(word: str) -> set[str]:
    casings = {""}
    for char in word:
        casings = {prefix + c for prefix in casings for c in {char.lower(), char.upper()}}
    return casings


# Every upper/lower-case spelling of every marker, so the check is one hash lookup per value
# (upper-casing a million values first costs more than the rest of clean_text).
_MISSING_ANY_CASE = sorted(set().union(*(_every_casing(m) for m in MISSING_MARKERS)))

# Rust's \s already covers NBSP (U+00A0), U+2007 and U+202F; zero-width space and the BOM are not
# white space to Unicode but arrive in copy-pasted Excel cells all the same. Only runs and
# characters other than a plain space are rewritten, which leaves most values untouched.
_WHITESPACE = r"[\s\x{200B}\x{FEFF}]{2,}|[^\S ]|[\x{200B}\x{FEFF}]"

_TRUE_WORDS = ("Y", "YA", "YES", "TRUE", "1", "1.0", "BENAR")
# "T" is "tidak" (no), never "true".
_FALSE_WORDS = ("T", "TIDAK", "TDK", "N", "NO", "FALSE", "0", "0.0", "SALAH")


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Trims (NBSP included), collapses inner white space to one space, and turns missing markers
    into null."""
    text = expr.cast(pl.String).str.replace_all(_WHITESPACE, " ").str.strip_chars(" ")
    # replace() refers to `text` once; a when/then would compute it twice in an eager select.
    return text.replace(dict.fromkeys(_MISSING_ANY_CASE))


def identifier_text(expr: pl.Expr) -> pl.Expr:
    """clean_identifier without turning zeros into null, for parsers that want to tell an all-zero
    value apart from an empty one (the NIK parser flags `repeated_digit`)."""
    text = (
        clean_text(expr)
        # Excel users force text with a leading apostrophe; it is not part of the value.
        .str.replace(r"^'([0-9][0-9 .\-]*)$", "${1}")
        # A number that went through a float: 202500001.0 (202500001,0 in an Indonesian locale).
        .str.replace(r"^([0-9]+)[.,]0+$", "${1}")
    )
    # Separators typed inside a number: 3273.0541.0785.0001, 3273 0541 0785 0001, 32-12-01.
    # Scientific notation (3.27305E+15) holds a letter, so it is left as it is for the NIK parser.
    # The struct evaluates `text` once for the three uses below.
    value = pl.field("value")
    return (
        pl.struct(value=text)
        .struct.eval(
            value=pl.when(value.str.contains(r"^[0-9][0-9 .\-]*[0-9]$"))
            .then(value.str.replace_all(r"[ .\-]", ""))
            .otherwise(value)
        )
        .struct.field("value")
    )


def clean_identifier(expr: pl.Expr) -> pl.Expr:
    """clean_text for identifiers: float text and separators removed, and "0" or all zeros become
    null (contract 1.1). Letters and scientific notation are left for the specific parser."""
    return identifier_text(expr).str.replace(r"^0+$", "").replace({"": None})


# Digits, not all zeros: what clean_identifier returns unchanged (nearly every value of a delivery).
_PLAIN_IDENTIFIER = r"^[0-9]*[1-9][0-9]*$"


def clean_identifier_values(values: pl.Series) -> pl.Series:
    """clean_identifier of a Series (as text), worked out only for the values that are not plain
    digits already: at 1M rows, 0.03 s against 0.25 s for the whole expression."""
    values = values.cast(pl.String)
    others = ~values.str.contains(_PLAIN_IDENTIFIER).fill_null(False)
    if not others.any():
        return values
    where = others.arg_true()
    cleaned = pl.select(clean_identifier(pl.lit(values.gather(where)))).to_series()
    return values.clone().scatter(where, cleaned)


def phone_number(expr: pl.Expr) -> pl.Expr:
    """A phone number as its digits without Indonesia's country code or trunk zero: +62 812-3456-789,
    0062 812..., 62812... and 0812... all become 8123456789. A foreign number keeps its country
    code (+60 12-345 6789 -> 60123456789). Null when fewer than 8 or more than 15 digits remain, or
    one digit repeated (a placeholder)."""
    digits = clean_text(expr).str.replace_all(r"[^0-9]", "")
    national = digits.str.replace(r"^00", "").str.replace(r"^(62|0)", "")
    placeholder = national.str.contains(r"^(0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$")
    return pl.when(national.str.len_chars().is_between(8, 15) & ~placeholder).then(national)


def parse_bool(expr: pl.Expr) -> pl.Expr:
    """Y/Ya/true/1 -> true, T/Tidak/N/false/0 -> false, anything else null; case-insensitive."""
    mapping = {word: True for word in _TRUE_WORDS} | {word: False for word in _FALSE_WORDS}
    return (
        clean_text(expr)
        .str.to_uppercase()
        .replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    )


def add_struct_fields(df: pl.DataFrame, struct: pl.Expr, names: list[str]) -> pl.DataFrame:
    """Adds the fields of a struct expression to df as columns named `names` (in field order).
    Existing columns of those names are replaced, after the struct has been computed from them.

    Evaluating the struct once and unnesting it avoids computing it again for every field.
    """
    scratch = "__padu_struct__"
    out = df.with_columns(struct.struct.rename_fields(names).alias(scratch))
    return out.drop([name for name in names if name in df.columns]).unnest(scratch)
