"""Reads one delivery file (CSV, XLSX or Parquet) into text columns named as the contract names
them, keeping each row's position in the file so that every problem can point at it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from assets.sources.contracts import SourceContract

ROW_NUMBER = "_row_number"
FILE = "_file"

# Windows-1252 leaves five bytes undefined; Latin-1 reads every byte, so it is the last resort.
CSV_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


class DeliveryFileError(Exception):
    """A file that cannot be used at all: it rejects the whole delivery it belongs to."""

    def __init__(self, file: str, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


@dataclass
class FileRead:
    """The rows of one file: `rows` holds every well-formed row as text, `bad_rows` the rows
    that could not be split into the header's fields (row number and reason)."""

    file: str
    rows: pl.DataFrame
    bad_rows: pl.DataFrame
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def rows_read(self) -> int:
        return self.rows.height + self.bad_rows.height


def normalise_header(name: object) -> str:
    return str(name).replace("\ufeff", "").strip().lower()


def _bad_rows_frame(entries: list[tuple[int, str, str]]) -> pl.DataFrame:
    """(row number, rule, reason) of rows that could not be split into fields."""
    return pl.DataFrame(
        entries, schema={ROW_NUMBER: pl.Int64, "rule": pl.String, "reason": pl.String}, orient="row"
    )


def _decode(data: bytes, file: str) -> tuple[str, str]:
    if b"\x00" in data[:4096]:
        raise DeliveryFileError(file, "not a text CSV file (it holds NUL bytes)")
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DeliveryFileError(file, "cannot be decoded as UTF-8 or Windows-1252")  # pragma: no cover


def _sniff_delimiter(first_line: str) -> str:
    # Indonesian Excel writes ';'; the header line has no quoted delimiters in practice, but
    # count outside quotes anyway.
    outside, in_quotes = [], False
    for char in first_line:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes:
            outside.append(char)
    text = "".join(outside)
    return ";" if text.count(";") > text.count(",") else ","


def read_csv(path: Path, file: str) -> FileRead:
    text, encoding = _decode(path.read_bytes(), file)
    if not text.strip():
        raise DeliveryFileError(file, "the file is empty (no header row)")
    delimiter = _sniff_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise DeliveryFileError(file, f"the header row cannot be read: {exc}") from exc
    width = len(header)
    good: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str, str]] = []
    line_before = reader.line_num
    while True:
        start_line = line_before + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad.append((start_line, "unparseable_csv", f"cannot be parsed as CSV: {exc}"))
            break
        line_before = reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line is not a row
        if len(record) != width:
            bad.append((start_line, "field_count", f"has {len(record)} fields where the header has {width}"))
            continue
        good.append(record)
        numbers.append(start_line)
    if len({normalise_header(h) for h in header}) != width:
        raise DeliveryFileError(file, "the header names a column twice")
    columns = list(zip(*good)) if good else [()] * width
    frame = pl.DataFrame(
        {name: pl.Series(values=list(col), dtype=pl.String) for name, col in zip(header, columns)}
    ).with_columns(pl.Series(ROW_NUMBER, numbers, dtype=pl.Int64))
    return FileRead(file, frame, _bad_rows_frame(bad), encoding, delimiter)


def read_xlsx(path: Path, file: str) -> FileRead:
    try:
        sheet = fastexcel.read_excel(str(path)).load_sheet(0, dtypes="string")
        frame = sheet.to_polars()
    except Exception as exc:  # calamine raises several types for broken workbooks
        raise DeliveryFileError(file, f"cannot be read as an Excel workbook: {exc}") from exc
    # Sheet row 1 is the header; calamine skips nothing in between, so data row i is row i + 2.
    frame = frame.with_columns(
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(ROW_NUMBER)
    )
    # Fully empty rows (formatting left below the data) are not rows.
    data_cols = [c for c in frame.columns if c != ROW_NUMBER]
    if data_cols:
        frame = frame.filter(~pl.all_horizontal(pl.col(data_cols).is_null()))
    return FileRead(file, frame, _bad_rows_frame([]))


def _as_text(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if dtype == pl.String:
        return series
    if dtype.is_float():
        # An identifier stored as a float must become its digits: 202500001, never 202500001.0.
        integral = series.is_not_nan() & (series == series.round(0)) & (series.abs() < 1e18)
        return (
            pl.select(
                pl.when(integral)
                .then(series.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(series.cast(pl.String))
            )
            .to_series()
            .alias(series.name)
        )
    if dtype == pl.Boolean:
        return series.cast(pl.String).str.to_lowercase()
    if dtype.is_temporal() or dtype.is_numeric():
        return series.cast(pl.String)
    return series.cast(pl.String, strict=False)


def read_parquet(path: Path, file: str) -> FileRead:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise DeliveryFileError(file, f"cannot be read as Parquet: {exc}") from exc
    frame = frame.with_columns([_as_text(frame[c]) for c in frame.columns])
    frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW_NUMBER))
    return FileRead(file, frame, _bad_rows_frame([]))


READERS = {".csv": read_csv, ".xlsx": read_xlsx, ".parquet": read_parquet}


def match_columns(read: FileRead, contract: SourceContract) -> pl.DataFrame:
    """Renames the file's columns to the contract's names (case-insensitive, trimmed), adds missing
    optional columns as null, keeps extra columns, and rejects a file without a required column."""
    by_key: dict[str, str] = {}
    for name in read.rows.columns:
        if name == ROW_NUMBER:
            continue
        key = normalise_header(name)
        if key in by_key:
            raise DeliveryFileError(read.file, f"column '{key}' appears twice in the header")
        by_key[key] = name
    missing = [c for c in contract.required if c not in by_key]
    if missing:
        raise DeliveryFileError(
            read.file, f"required column '{missing[0]}' is missing"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )
    frame = read.rows.rename({orig: key for key, orig in by_key.items()})
    absent = [c for c in contract.optional if c not in by_key]
    frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in absent])
    extras = sorted(k for k in by_key if k not in contract.columns)
    return frame.select(
        [pl.col(c).cast(pl.String) for c in contract.columns]
        + [pl.col(c).cast(pl.String) for c in extras]
        + [pl.col(ROW_NUMBER)]
    ).with_columns(pl.lit(read.file, dtype=pl.String).alias(FILE))


def read_delivery_file(path: Path, file: str, contract: SourceContract) -> tuple[pl.DataFrame, FileRead]:
    reader = READERS[path.suffix.lower()]
    read = reader(path, file)
    return match_columns(read, contract), read
