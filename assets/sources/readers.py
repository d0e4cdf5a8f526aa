"""Reads one delivery file (CSV, XLSX or Parquet) into text columns named as the contract names
them, keeping each row's position in the file so that every problem can point at it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl

from assets.sources.contracts import SourceContract

ROW_NUMBER = "_row_number"
FILE = "_file"


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
    notes: list[str] = field(default_factory=list)

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


# Files that are not text at all, by their first bytes: a renamed workbook is the common case.
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel workbook saved or renamed as .csv?)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document (.xls)",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
}
# Bytes that never occur in a text export (tab, CR, LF, FF, VT are text).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13))
_BINARY_SAMPLE = 65_536
_UTF8_SAMPLE = 1 << 20
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")


def _binary_reason(data: bytes) -> str | None:
    """Why `data` is not a text CSV file at all, or None when it looks like text."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return f"not a text CSV file: it is {what}"
    if b"\x00" in data:
        return "not a text CSV file: it holds NUL bytes (binary or corrupt)"
    sample = data[:_BINARY_SAMPLE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if sample and controls / len(sample) > 0.01:
        return (f"not a text CSV file: {controls} of its first {len(sample)} bytes are control "
                "characters (binary or corrupt)")
    return None


def _decode_line(line: bytes) -> tuple[str, str]:
    try:
        return line.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return line.decode("latin-1"), "latin-1"


def _decode(data: bytes, file: str) -> tuple[str, str, list[str]]:
    """The file's text, the encoding it was read in, and notes for the operator.

    A file is UTF-8 (BOM or not) or Windows-1252 as a whole (contract 1). A file that holds both
    (lines appended by another program) is decoded line by line, UTF-8 first, so that neither
    part turns into mojibake; the lines read as Windows-1252 are named in a note.
    """
    reason = _binary_reason(data)
    if reason:
        raise DeliveryFileError(file, reason)
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError:
        pass
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # A line that is valid UTF-8 and not plain ASCII is evidence of UTF-8; in a true
    # Windows-1252 file such a line (e.g. "Ã©") is all but impossible. Such a line holds a UTF-8
    # lead byte followed by a continuation byte: numpy finds the lines that do, and only those are
    # tried (testing every line of a 77 MB DTSEN part in Python took 0.30 of its 0.47 s).
    codes = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(codes == _LF)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.append(breaks, codes.size)

    def lines_holding(positions: np.ndarray) -> list[int]:
        return np.unique(np.searchsorted(breaks, positions)).tolist()  # a line = breaks before it

    high = np.flatnonzero(codes > 127)
    lead = high[(codes[high] >= 0xC2) & (codes[high] <= 0xF4) & (high + 1 < codes.size)]
    lead = lead[(codes[lead + 1] >= 0x80) & (codes[lead + 1] <= 0xBF)]
    if not any(_decode_line(data[starts[i]:ends[i]])[1] == "utf-8" for i in lines_holding(lead)):
        try:
            return data.decode("cp1252"), "cp1252", []
        except UnicodeDecodeError:
            note = f"{file}: bytes undefined in Windows-1252; read as Latin-1"
            return data.decode("latin-1"), "latin-1", [note]
    # Mixed: a plain ASCII line reads the same in every one of these encodings, so only the
    # others are decoded one by one.
    decoded = {i: _decode_line(data[starts[i]:ends[i]]) for i in lines_holding(high)}
    other = [i + 1 for i, (_, enc) in decoded.items() if enc != "utf-8"]
    shown = ", ".join(map(str, other[:20])) + (f" and {len(other) - 20} more" if len(other) > 20 else "")
    note = (f"{file}: mixed encodings; {len(other)} line(s) are not UTF-8 and were read as "
            f"Windows-1252 (lines {shown}), the other lines as UTF-8")
    lines = data.split(b"\n")
    text = "\n".join(decoded[i][0] if i in decoded else line.decode("ascii") for i, line in enumerate(lines))
    return text, "utf-8+cp1252", [note]


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


def _first_unterminated_quote(raw: str, delimiter: str) -> bool:
    """True when `raw` (the text of one record that ran to the end of the file) ends inside a
    quoted field: the lenient reader would otherwise return it as if the quote were closed."""
    try:
        for _ in csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _split_records(lines: list[str], start: int, delimiter: str, width: int):
    """Yields (line number, record or None, rule, reason) for the data lines from `start` on.

    Rows that cannot be split into the header's fields are yielded with a rule and a reason. A
    bad record that spans several lines (an unbalanced quote swallows the lines after it) costs
    only its first line: parsing starts again on the next line, so no row is lost inside it.
    """
    position = start
    while position < len(lines):
        # map/range starts at `position` without copying the list (restarts may be many).
        reader = csv.reader(
            map(lines.__getitem__, range(position, len(lines))), delimiter=delimiter, strict=False
        )
        consumed_before = 0
        restart = None
        while True:
            first = position + consumed_before  # 0-based index of the record's first line
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                reason = f"cannot be parsed as CSV: {exc}"
                if "field larger than field limit" in str(exc):
                    reason = (
                        "a quoted field opened on this line runs on for more than "
                        f"{csv.field_size_limit():,} characters (an unbalanced quote?)"
                    )
                yield first + 1, None, "unparseable_csv", reason
                restart = first + 1
                break
            consumed = reader.line_num - consumed_before
            consumed_before = reader.line_num
            span = f"lines {first + 1}-{first + consumed}" if consumed > 1 else f"line {first + 1}"
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line is not a row
            at_end = first + consumed >= len(lines)
            if at_end and _first_unterminated_quote("".join(lines[first:]), delimiter):
                reason = (
                    "a quoted field opened on this line is never closed: the file ends inside it "
                    "(truncated file or unbalanced quote)"
                )
                if consumed > 1:
                    reason += f"; the lines after it are read again as rows ({span} were swallowed)"
                yield first + 1, None, "unterminated_quote", reason
                if consumed > 1:
                    restart = first + 1
                    break
                continue
            swallowed = consumed > 2 and width > 2 and any(
                line.count(delimiter) >= width - 1 for line in lines[first + 1:first + consumed - 1]
            )
            if swallowed:
                # A value spanning lines is legal, but not one that holds whole rows of the file.
                yield first + 1, None, "unbalanced_quote", (
                    f"a quoted field opened on this line runs over {span}, which hold rows of their own "
                    "(an unbalanced quote); the lines after it are read again"
                )
                restart = first + 1
                break
            if len(record) != width:
                reason = _field_count_reason(len(record), width, at_end and consumed == 1)
                if consumed > 1:
                    reason += f" ({span} read as one row: an unbalanced quote?); the lines after it are read again"
                yield first + 1, None, "field_count", reason
                if consumed > 1:
                    restart = first + 1
                    break
                continue
            yield first + 1, record, None, None
        if restart is None:
            return
        position = restart



def _field_count_reason(fields: int, width: int, last: bool) -> str:
    reason = f"has {fields} fields where the header has {width}"
    if last and fields < width:
        reason += " (the last row of the file: truncated?)"
    return reason


def _split_plain(body: bytes, delimiter: str, header: list[str]):
    """The rows of a CSV file split by Polars at once, with the line numbers and bad rows the
    row-by-row reader (`_split_records`) gives; None when the file holds anything that reader
    must judge line by line: a quote not at a field's edge, a quote left open, a quoted value
    over more than two lines, a bad row spanning lines, a lone CR, an over-long field.

    Quotes, line breaks and delimiters are located with numpy over the bytes: a delimiter or
    line break is inside a quoted value when an odd number of quotes precede it. A record whose
    delimiter count does not fit the header is a bad row. Returns (rows, line numbers, bad rows).
    """
    view = memoryview(body)
    data = np.frombuffer(view, dtype=np.uint8)
    size = data.size
    lf = np.flatnonzero(data == _LF)
    cr = np.flatnonzero(data == _CR)
    if cr.size and (cr[-1] + 1 >= size or not (data[cr + 1] == _LF).all()):
        return None  # a lone CR ends a line for the csv module, not for Polars
    quotes = np.flatnonzero(data == _QUOTE)
    if quotes.size % 2:
        return None
    if quotes.size:
        # Opening quotes (even rank) start a field; closing ones (odd rank) end it, unless doubled.
        opening, closing = quotes[0::2], quotes[1::2]
        before = np.where(opening > 0, data[np.maximum(opening - 1, 0)], _LF)
        after = np.where(closing + 1 < size, data[np.minimum(closing + 1, size - 1)], _LF)
        edges = np.array([ord(delimiter), _LF, _QUOTE], dtype=np.uint8)
        if not (np.isin(before, edges).all() and np.isin(after, np.append(edges, _CR)).all()):
            return None  # a quote inside an unquoted value: the csv module takes it literally
    quoted_lf = np.searchsorted(quotes, lf) % 2 == 1
    record_lf = lf[~quoted_lf]
    starts = np.concatenate(([0], record_lf + 1))
    ends = np.concatenate((record_lf, [size]))
    if starts[-1] == size:  # the file ends with a line break
        starts, ends = starts[:-1], ends[:-1]
    if (ends - starts).max(initial=0) > csv.field_size_limit():
        return None
    # Physical lines per record, and each record's first line number.
    first_line = np.searchsorted(lf, starts) + 1
    spans = np.searchsorted(lf, ends) + 1 - first_line + 1
    width = len(header)
    if width > 2 and (spans > 2).any():
        return None  # the row-by-row reader checks such a value for swallowed rows
    delimiters = np.flatnonzero(data == ord(delimiter))
    fields = np.searchsorted(delimiters, ends) - np.searchsorted(delimiters, starts) + 1
    if quotes.size:
        # The delimiters inside quoted values are counted per value and taken off their record's
        # count: a value never holds a record's end, so it lies inside one record. (Testing every
        # delimiter against the quotes took 0.32 of 1.07 s on a 106 MB DTSEN part.)
        inside = np.searchsorted(delimiters, closing) - np.searchsorted(delimiters, opening)
        holding = inside > 0
        if holding.any():
            record = np.searchsorted(starts, opening[holding], side="right") - 1
            fields -= np.bincount(record, weights=inside[holding], minlength=fields.size).astype(fields.dtype)
    fields[0] = width  # the header, read apart
    good = fields == width
    if (~good & (spans > 1)).any():
        return None  # a bad row over several lines: the reader reads the lines after it again
    bad: list[tuple[int, str, str]] = []
    last = len(starts) - 1
    for index in np.flatnonzero(~good).tolist():
        if not bytes(view[starts[index]:ends[index]]).strip():
            continue  # a blank line is not a row
        bad.append((int(first_line[index]), "field_count",
                    _field_count_reason(int(fields[index]), width, index == last)))
    good[0] = False
    kept = np.flatnonzero(good)
    if kept.size and width == 1:
        kept = np.array([i for i in kept.tolist() if bytes(view[starts[i]:ends[i]]).strip()], dtype=np.int64)
    # Runs of consecutive kept records are copied once each.
    runs = np.split(kept, np.flatnonzero(np.diff(kept) != 1) + 1) if kept.size else []
    # Slices of a memoryview: the kept text is copied once, not once per slice and again to join.
    text = b"".join(piece for run in runs for piece in (view[starts[run[0]]:ends[run[-1]]], b"\n"))
    schema = {f"column_{i}": pl.String for i in range(width)}
    rows = pl.read_csv(
        text, has_header=False, schema=schema, separator=delimiter, quote_char='"',
        empty_string_is_null=False, raise_if_empty=False,
    ) if text else pl.DataFrame(schema=schema)
    if rows.height != kept.size:
        return None
    rows.columns = header
    return rows, first_line[kept], bad


def _check_header(header: list[str], file: str) -> None:
    if len({normalise_header(h) for h in header}) != len(header):
        raise DeliveryFileError(file, "the header names a column twice")


def _read_plain_utf8(data: bytes, file: str) -> FileRead | None:
    """A UTF-8 file (BOM or not) split by Polars at once (`_split_plain`), without decoding it in
    Python first: Polars refuses a value that is not UTF-8, and then (as for anything else the
    row-by-row reader must judge) this gives None. Decoding a 106 MB DTSEN part only to check it
    took 0.16 s."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = data.find(b"\n", start)
    # The header, and the lines of the first MB: a file in another encoding mostly shows it there,
    # before numpy and Polars go through all of it.
    sample_end = data.rfind(b"\n", start, start + _UTF8_SAMPLE)
    try:
        header_line = data[start:end + 1 if end >= 0 else len(data)].decode("utf-8")
        data[start:max(sample_end, 0)].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not header_line.strip() or header_line.count('"') % 2:
        return None
    delimiter = _sniff_delimiter(header_line)
    try:
        header = next(csv.reader([header_line], delimiter=delimiter, strict=False))
    except csv.Error:
        return None
    _check_header(header, file)
    try:
        plain = _split_plain(memoryview(data)[start:], delimiter, header)  # no copy
    except pl.exceptions.ComputeError:  # a value that is not UTF-8
        return None
    return None if plain is None else _plain_read(plain, file, "utf-8", delimiter, [])


def _plain_read(plain, file: str, encoding: str, delimiter: str, notes: list[str]) -> FileRead:
    """The FileRead of what `_split_plain` gave (rows, line numbers, bad rows)."""
    rows, numbers, bad = plain
    frame = rows.with_columns(pl.Series(ROW_NUMBER, numbers, dtype=pl.Int64))
    return FileRead(file, frame, _bad_rows_frame(bad), encoding, delimiter, notes)


def read_csv(path: Path, file: str, *, row_by_row: bool = False) -> FileRead:
    """Reads a CSV delivery file. Most files are UTF-8 and split by Polars at once; a file in
    another encoding, or with anything the row-by-row reader must judge line by line (or
    `row_by_row`), is decoded first, then split by Polars or read by the csv module."""
    data = path.read_bytes()
    reason = _binary_reason(data)
    if reason:
        raise DeliveryFileError(file, reason)
    if not row_by_row and (plain := _read_plain_utf8(data, file)) is not None:
        return plain
    text, encoding, notes = _decode(data, file)
    if not text or text.isspace():  # not strip(): that copies the whole text
        raise DeliveryFileError(file, "the file is empty (no header row)")
    header_line = text[:text.find("\n") + 1 if "\n" in text else len(text)]
    delimiter = _sniff_delimiter(header_line)
    if not row_by_row and header_line.count('"') % 2 == 0 and encoding != "utf-8":
        try:
            header = next(csv.reader([header_line], delimiter=delimiter, strict=False))
        except csv.Error as exc:
            raise DeliveryFileError(file, f"the header row cannot be read: {exc}") from exc
        _check_header(header, file)
        plain = _split_plain(text.encode("utf-8"), delimiter, header)
        if plain is not None:
            return _plain_read(plain, file, encoding, delimiter, notes)
    # Physical lines as the csv module sees them (\n, \r\n or \r), endings kept.
    lines = list(io.StringIO(text, newline=""))
    delimiter = _sniff_delimiter(lines[0])
    header_reader = csv.reader(iter(lines), delimiter=delimiter, strict=False)
    try:
        header = next(header_reader)
    except csv.Error as exc:
        raise DeliveryFileError(file, f"the header row cannot be read: {exc}") from exc
    _check_header(header, file)
    width = len(header)
    good: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str, str]] = []
    for line_number, record, rule, reason in _split_records(lines, header_reader.line_num, delimiter, width):
        if record is None:
            bad.append((line_number, rule, reason))
        else:
            good.append(record)
            numbers.append(line_number)
    columns = list(zip(*good)) if good else [()] * width
    frame = pl.DataFrame(
        {name: pl.Series(values=list(col), dtype=pl.String) for name, col in zip(header, columns)}
    ).with_columns(pl.Series(ROW_NUMBER, numbers, dtype=pl.Int64))
    return FileRead(file, frame, _bad_rows_frame(bad), encoding, delimiter, notes)


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
    frame = match_columns(read, contract)
    if read.rows_read == 0:
        # A delivery is a full snapshot: an empty part would read as the deletion of every record
        # it should hold, so it rejects its delivery rather than publish that (contract 1.1).
        raise DeliveryFileError(
            file, "has a header but no data rows; an empty part of a full snapshot would delete "
            "every record it should hold"
        )
    return frame, read
