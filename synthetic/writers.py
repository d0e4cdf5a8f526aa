"""How values are spelled in the delivered files, and the file writers (CSV, XLSX, Parquet, `_SUCCESS`).

The spellings are the contract's (source-contracts.md 2): every date format, sex and boolean code and
missing marker it lists. Writers are deterministic: the same frame gives byte-identical files
(the XLSX creation time is fixed).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import polars as pl
import xlsxwriter

from synthetic.noise import NA_DAY

# --- spellings -------------------------------------------------------------------------------------
DATE_FORMATS = ("iso", "dmy_dash", "dmy_slash", "dmy2", "indo_long", "indo_short", "excel_serial")
MONTHS_LONG = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
               "November", "Desember"]
MONTHS_SHORT = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agt", "Sep", "Okt", "Nov", "Des"]
AUGUST_SHORT = ["Agt", "Agu", "Ags"]
EXCEL_EPOCH_OFFSET = 25569  # days from 1899-12-30 to 1970-01-01

SEX_CODES = {"L/P": ("L", "P"), "LAKI-LAKI/PEREMPUAN": ("LAKI-LAKI", "PEREMPUAN"), "1/2": ("1", "2"), "M/F": ("M", "F")}
BOOL_CODES = {"Y/T": ("Y", "T"), "Ya/Tidak": ("Ya", "Tidak"), "true/false": ("true", "false"), "1/0": ("1", "0")}


def pick_codes(rng: np.random.Generator, n: int, weights: dict[str, float]) -> np.ndarray:
    """One key of `weights` per row, drawn with those weights."""
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=n, p=w / w.sum())]


def format_dates(dates: pl.Series, formats: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Dates as text, each row in its own format from DATE_FORMATS (`D MMMM YYYY` with Indonesian months)."""
    n = len(dates)
    frame = pl.DataFrame({"d": dates, "f": pl.Series(formats, dtype=pl.Utf8),
                          "aug": pl.Series(AUGUST_SHORT, dtype=pl.Utf8).gather(rng.integers(0, 3, n))})
    d = pl.col("d")
    month = d.dt.month()
    long_month = month.replace_strict(list(range(1, 13)), MONTHS_LONG, return_dtype=pl.Utf8)
    short_month = pl.when(month == 8).then(pl.col("aug")).otherwise(
        month.replace_strict(list(range(1, 13)), MONTHS_SHORT, return_dtype=pl.Utf8))
    day = d.dt.day().cast(pl.Utf8)
    year = d.dt.year().cast(pl.Utf8)
    f = pl.col("f")
    text = (
        pl.when(f == "iso").then(d.dt.strftime("%Y-%m-%d"))
        .when(f == "dmy_dash").then(d.dt.strftime("%d-%m-%Y"))
        .when(f == "dmy_slash").then(d.dt.strftime("%d/%m/%Y"))
        .when(f == "dmy2").then(d.dt.strftime("%d-%m-%y"))
        .when(f == "indo_long").then(pl.concat_str([day, long_month, year], separator=" "))
        .when(f == "indo_short").then(pl.concat_str([day, short_month, year], separator=" "))
        .when(f == "excel_serial").then((d.cast(pl.Int32) + EXCEL_EPOCH_OFFSET).cast(pl.Utf8))
        .otherwise(d.dt.strftime("%Y-%m-%d"))
    )
    return frame.select(text.alias("d"))["d"]


def sex_codes(sex: pl.Series, schemes: np.ndarray) -> pl.Series:
    """`L`/`P` as each row's scheme spells it (keys of SEX_CODES)."""
    frame = pl.DataFrame({"s": sex, "k": pl.Series(schemes, dtype=pl.Utf8)})
    expr = pl.col("s")
    for key, (male, female) in SEX_CODES.items():
        expr = pl.when(pl.col("k") == key).then(
            pl.when(pl.col("s") == "L").then(pl.lit(male)).when(pl.col("s") == "P").then(pl.lit(female))
        ).otherwise(expr)
    return frame.select(expr.alias("s"))["s"]


def bool_codes(values: pl.Series, schemes: np.ndarray) -> pl.Series:
    frame = pl.DataFrame({"b": values, "k": pl.Series(schemes, dtype=pl.Utf8)})
    expr = pl.lit(None, dtype=pl.Utf8)
    for key, (yes, no) in BOOL_CODES.items():
        expr = pl.when(pl.col("k") == key).then(
            pl.when(pl.col("b")).then(pl.lit(yes)).when(~pl.col("b")).then(pl.lit(no))
        ).otherwise(expr)
    return frame.select(expr.alias("b"))["b"]


def missing_markers(values: pl.Series, rng: np.random.Generator, markers: dict[str, float]) -> pl.Series:
    """Nulls spelled as the source spells a missing value (`""`, `-`, `NULL`, `N/A`)."""
    filler = pl.Series(pick_codes(rng, len(values), markers), dtype=pl.Utf8)
    # An empty marker stays null so that the CSV field is empty rather than `""`.
    filler = pl.select(pl.when(filler != "").then(filler).alias("f"))["f"]
    return pl.select(values.cast(pl.Utf8).fill_null(filler).alias("v"))["v"]


def epoch_days(dates: pl.Series) -> np.ndarray:
    return dates.cast(pl.Int32).fill_null(NA_DAY).to_numpy()


def python_dates(dates: pl.Series) -> np.ndarray:
    """Dates as `datetime.date` objects (None for null) for native Excel date cells."""
    return np.asarray(dates.to_list(), dtype=object)


# --- writers ---------------------------------------------------------------------------------------
def write_csv(frame: pl.DataFrame, path: Path, *, separator: str = ",", encoding: str = "utf-8",
              bom: bool = False, crlf: bool = False) -> None:
    """All columns as text; nulls written as empty fields; fields with the delimiter or a newline are quoted.

    Windows-1252 files are written in slices so that a large delivery never sits in memory twice.
    """
    line_end = "\r\n" if crlf else "\n"
    frame = frame.with_columns(pl.all().cast(pl.Utf8))
    if encoding.replace("-", "").lower() == "utf8":
        frame.write_csv(path, separator=separator, include_bom=bom, line_terminator=line_end)
        return
    with open(path, "wb") as handle:
        if bom:
            handle.write("\ufeff".encode(encoding))
        if frame.height == 0:
            handle.write(frame.write_csv(separator=separator, line_terminator=line_end).encode(encoding))
        for i, chunk in enumerate(frame.iter_slices(100_000)):
            text = chunk.write_csv(separator=separator, include_header=(i == 0), line_terminator=line_end)
            handle.write(text.encode(encoding, errors="replace"))  # as Excel does: `?` for what the code page lacks


def write_xlsx(path: Path, header: Sequence[str], columns: Sequence[Sequence[Any]],
               created: dt.datetime = dt.datetime(2026, 1, 1)) -> None:
    """First sheet, header in row 1. Cells take the Python type of each value: str -> text, int/float ->
    number, datetime.date -> date cell (dd/mm/yyyy), None -> blank."""
    workbook = xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
        "strings_to_urls": False, "default_date_format": "dd/mm/yyyy",
    })
    workbook.set_properties({"created": created, "author": "synthetic"})
    sheet = workbook.add_worksheet("Sheet1")
    sheet.write_row(0, 0, list(header))
    for r, row in enumerate(zip(*columns), start=1):
        sheet.write_row(r, 0, row)
    workbook.close()


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, compression="zstd", statistics=False)


def write_success(folder: Path) -> None:
    """The empty marker that says a delivery is complete: written after every data file."""
    (folder / "_SUCCESS").write_bytes(b"")
