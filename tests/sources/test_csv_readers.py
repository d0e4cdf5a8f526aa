"""The CSV reader has two paths: Polars splits a file at once where numpy finds nothing that
needs judging line by line, and the csv module reads the rest row by row. Both must give the
same rows, line numbers and bad-row reasons; these cases check it on values."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from assets.sources import readers
from assets.sources.readers import read_csv

HEADER = "id,nama,alamat,tgl\n"

# (case, file bytes, whether Polars may take it at once)
CASES = [
    ("plain", HEADER + "1,SITI,JL MAWAR,2001-02-03\n2,BUDI,JL MELATI,1999-12-31\n", True),
    ("no final line break", HEADER + "1,SITI,JL MAWAR,2001-02-03", True),
    ("quoted delimiter", HEADER + '1,SITI,"JL MAWAR, RT 02",2001-02-03\n', True),
    ("quoted line break", HEADER + '1,SITI,"JL MAWAR\nRT 02",2001-02-03\n2,BUDI,X,1999-12-31\n', True),
    ("doubled quotes", HEADER + '1,"SITI ""ICA""",X,2001-02-03\n2,"",,\n', True),
    ("empty values", HEADER + "1,,,\n,,,\n", True),
    ("CRLF", (HEADER + "1,SITI,X,2001\n2,BUDI,Y,1999\n").replace("\n", "\r\n"), True),
    ("quoted CRLF", HEADER.replace("\n", "\r\n") + '1,SITI,"A\r\nB",2001\r\n', True),
    ("blank lines", HEADER + "1,SITI,X,2001\n\n   \n2,BUDI,Y,1999\n\n", True),
    ("short and long rows", HEADER + "1,SITI,X,2001\n2,BUDI\n3,A,B,C,D\n4,WATI,Z,2002\n", True),
    ("truncated last row", HEADER + "1,SITI,X,2001\n2,BUD", True),
    ("semicolons", HEADER.replace(",", ";") + '1;SITI;"JL A; B";2001\n', True),
    ("stray quote inside a value", HEADER + '1,SI"TI,X,2001\n2,BUDI,Y,1999\n', False),
    ("quote left open", HEADER + '1,"SITI,X,2001\n2,BUDI,Y,1999\n', False),
    ("text after a closing quote", HEADER + '1,"SITI"X,Y,2001\n', False),
    ("value over three lines", HEADER + '1,SITI,"A\nB\nC",2001\n', False),
    ("bad row over two lines", HEADER + '1,SITI,"A\nB"\n2,BUDI,Y,1999\n', False),
    ("lone CR", HEADER + "1,SITI,X,2001\r2,BUDI,Y,1999\n", False),
]


def _both(path: Path):
    return read_csv(path, path.name), read_csv(path, path.name, row_by_row=True)


@pytest.mark.parametrize("case, content, at_once", CASES, ids=[c[0] for c in CASES])
def test_polars_and_row_by_row_readers_agree(tmp_path, case, content, at_once):
    path = tmp_path / "part.csv"
    path.write_bytes(content.encode("utf-8"))
    fast, slow = _both(path)
    assert_frame_equal(fast.rows, slow.rows)
    assert_frame_equal(fast.bad_rows, slow.bad_rows)
    assert (fast.encoding, fast.delimiter) == (slow.encoding, slow.delimiter)
    header = HEADER.strip().split(",")
    delimiter = ";" if case == "semicolons" else ","
    taken = readers._split_plain(content.encode("utf-8"), delimiter, header)
    assert (taken is not None) == at_once


def test_readers_agree_on_windows_1252_and_report_the_same_lines(tmp_path):
    path = tmp_path / "part.csv"
    path.write_bytes((HEADER + '1,SÉTI,"JL Ñ, 2",2001\n2,BUDI\n3,WATI,"A\nB",2002\n4,X,Y,Z\n').encode("cp1252"))
    fast, slow = _both(path)
    assert fast.encoding == "cp1252"
    assert_frame_equal(fast.rows, slow.rows)
    assert fast.rows["nama"].to_list() == ["SÉTI", "WATI", "X"]
    assert fast.rows["_row_number"].to_list() == [2, 4, 6]  # the quoted break makes row 3 two lines
    assert fast.bad_rows.rows() == [(3, "field_count", "has 2 fields where the header has 4")]


def test_a_windows_1252_byte_far_into_a_large_file_is_read_as_windows_1252(tmp_path):
    # A UTF-8 file goes to Polars without being decoded first; a byte that is not UTF-8 in its
    # last rows (Polars parses the file in chunks) must still send the file to the decoder.
    path = tmp_path / "part.csv"
    rows = [f"{n},BUDI,JL MAWAR,2001\n" for n in range(200_000)] + ["200000,FRANÇOIS,JL Ñ,2002\n"]
    path.write_bytes((HEADER + "".join(rows)).encode("cp1252"))
    read = read_csv(path, "part.csv")
    assert read.encoding == "cp1252"
    assert read.rows.height == 200_001
    assert read.rows["nama"][-1] == "FRANÇOIS" and read.rows["alamat"][-1] == "JL Ñ"
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes((HEADER + "".join(rows)).encode("utf-8"))
    assert read_csv(utf8, "utf8.csv").rows.equals(read.rows)


def test_readers_agree_on_a_large_random_file(tmp_path):
    """20,000 rows of random values with every kind of quoting and 1% bad rows: a line break only
    in the address and never in a bad row, so that Polars takes the file at once."""
    rng = random.Random(7)
    words = ["SITI", "NUR", 'A"B', "JL. MAWAR, 2", "RT 01\nRW 02", "", "Ñ", " X ", "9;9"]
    lines, bad = [HEADER], 0
    for n in range(20_000):
        one_line = [w for w in words if "\n" not in w]
        values = [str(n), rng.choice(one_line), rng.choice(words), rng.choice(one_line)]
        if rng.random() < 0.01:
            values = [str(n), rng.choice(one_line)] if rng.random() < 0.5 else [str(n)] + [rng.choice(one_line)] * 4
            bad += 1
        quoted = ['"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v for v in values]
        lines.append(",".join(quoted) + "\n")
    path = tmp_path / "big.csv"
    path.write_bytes("".join(lines).encode("utf-8"))
    assert readers._split_plain(path.read_bytes(), ",", HEADER.strip().split(",")) is not None
    fast, slow = _both(path)
    assert_frame_equal(fast.rows, slow.rows)
    assert_frame_equal(fast.bad_rows, slow.bad_rows)
    assert fast.bad_rows.height == bad > 150
    assert fast.rows.height + fast.bad_rows.height == 20_000


def test_windows_1252_line_that_looks_like_utf_8_in_part_is_read_as_windows_1252(tmp_path):
    """"RAÃ©L é" in Windows-1252 holds a UTF-8 lead and continuation byte (Ã©) but is not UTF-8 as
    a line (é alone): the file is Windows-1252 throughout. A line that is UTF-8 as a whole makes
    the file mixed, and only that line is read as UTF-8."""
    path = tmp_path / "part.csv"
    lines = [HEADER, "1,RAÃ©L é,X,2001\n", "2,SÉTI,Y,2002\n"]
    path.write_bytes("".join(lines).encode("cp1252"))
    read = read_csv(path, path.name)
    assert (read.encoding, read.notes) == ("cp1252", [])
    assert read.rows["nama"].to_list() == ["RAÃ©L é", "SÉTI"]

    path.write_bytes("".join(lines).encode("cp1252") + "3,JOSÉ,Z,2003\n".encode("utf-8"))
    read = read_csv(path, path.name)
    assert read.encoding == "utf-8+cp1252"
    assert read.rows["nama"].to_list() == ["RAÃ©L é", "SÉTI", "JOSÉ"]
    assert read.notes == [f"{path.name}: mixed encodings; 2 line(s) are not UTF-8 and were read as "
                          "Windows-1252 (lines 2, 3), the other lines as UTF-8"]
