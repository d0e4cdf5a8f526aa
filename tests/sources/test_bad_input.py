"""Bad deliveries (issue 6): every case ends in a rejection or a quarantine that names the file,
the row and the reason, or in accepted rows with a note; never a crash without a message and
never a silent drop. Rules already covered in test_ingest.py (row rules, cp1252 with `;`, XLSX
and Parquet numbers, missing required column, incomplete delivery, garbage XLSX) are not
repeated here."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import xlsxwriter

from assets.sources.assets import build_raw_asset
from assets.sources.contracts import DTSEN_INDIVIDU, P2MI_KASUS, SR_SISWA
from assets.sources.ingest import ingest_source
from tests.sources.landing import delivery
from assets.warehouse import PaduSettings, Warehouse

KASUS_HEADER = "id_kasus,nama,negara,jenis_kasus,tgl_pengaduan\n"
KASUS_ROW = "C{n},WATI {n},KAMBOJA,TPPO,2026-01-20\n"
GOOD_KASUS = KASUS_HEADER + KASUS_ROW.format(n=1)


def rejected_newest(tmp_path: Path, source, files: dict[str, bytes], fallback: dict[str, bytes]):
    """A good older delivery, then the bad newest one: returns the ingest result."""
    delivery(tmp_path, source.name, "2026-10-01", fallback)
    delivery(tmp_path, source.name, "2026-11-27", files)
    return ingest_source(tmp_path, source)


def _xlsx(path: Path, header: list[str], rows: list[list]) -> bytes:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        sheet.write_row(r, 0, row)
    book.close()
    return path.read_bytes()


# --- files that cannot be used: the delivery is rejected, the previous one stays in use ---------

def _header_only_xlsx(tmp_path: Path) -> bytes:
    return _xlsx(tmp_path / "h.xlsx", ["id_kasus", "nama", "negara", "jenis_kasus", "tgl_pengaduan"], [])


def _header_only_parquet(tmp_path: Path) -> bytes:
    path = tmp_path / "h.parquet"
    pl.DataFrame(schema={c: pl.String for c in KASUS_HEADER.strip().split(",")}).write_parquet(path)
    return path.read_bytes()


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("kasus.csv", lambda _: KASUS_HEADER.encode(), "kasus.csv: has a header but no data rows"),
        ("kasus.csv", lambda _: (KASUS_HEADER + "\n\n").encode(), "kasus.csv: has a header but no data rows"),
        ("kasus.xlsx", _header_only_xlsx, "kasus.xlsx: has a header but no data rows"),
        ("kasus.parquet", _header_only_parquet, "kasus.parquet: has a header but no data rows"),
        ("kasus.csv", lambda _: b"", "kasus.csv: the file is empty (no header row)"),
        ("kasus.csv", lambda _: os.urandom(3000), "kasus.csv: not a text CSV file"),
        ("kasus.csv", lambda tmp: _header_only_xlsx(tmp), "kasus.csv: not a text CSV file: it is a ZIP archive"),
        ("kasus.parquet", lambda _: b"PAR1" + os.urandom(500), "kasus.parquet: cannot be read as Parquet"),
        ("kasus.csv", lambda _: b"id_kasus,nama,id_kasus\nC1,WATI,C1\n", "kasus.csv: the header names a column twice"),
    ],
    ids=["header-only-csv", "header-and-blank-lines", "header-only-xlsx", "header-only-parquet",
         "zero-bytes", "garbage-bytes-csv", "workbook-named-csv", "garbage-parquet", "duplicate-header"],
)
def test_unusable_file_rejects_its_delivery_and_the_previous_one_stays(tmp_path, name, content, reason):
    result = rejected_newest(tmp_path, P2MI_KASUS, {name: content(tmp_path)}, {"kasus.csv": GOOD_KASUS.encode()})
    assert result.delivery.delivery_date == dt.date(2026, 10, 1)
    assert result.accepted["id_kasus"].to_list() == ["C1"]
    [(label, message)] = result.rejected
    assert label == "p2mi_kasus/2026-11-27"
    assert message.startswith(f"p2mi_kasus/2026-11-27/{reason}"), message


def test_an_empty_part_beside_full_parts_still_rejects_the_delivery(tmp_path):
    # A snapshot split in parts: an empty part would read as the deletion of every record in it.
    result = rejected_newest(
        tmp_path, P2MI_KASUS,
        {"part1.csv": (KASUS_HEADER + KASUS_ROW.format(n=2)).encode(), "part2.csv": KASUS_HEADER.encode()},
        {"kasus.csv": GOOD_KASUS.encode()},
    )
    assert result.delivery.delivery_date == dt.date(2026, 10, 1)
    assert "part2.csv: has a header but no data rows" in result.rejected[0][1]


def test_parts_read_side_by_side_give_rows_and_the_first_error_in_file_order(tmp_path):
    # Parts are read in parallel (ingest.READERS); whichever finishes first, the rows keep the
    # order of the files and a delivery with two bad parts names the first.
    parts = {f"part{i}.csv": (KASUS_HEADER + "".join(KASUS_ROW.format(n=10 * i + j) for j in range(3))).encode()
             for i in (1, 2, 3)}
    delivery(tmp_path / "good", P2MI_KASUS.name, "2026-10-01", parts)
    accepted = ingest_source(tmp_path / "good", P2MI_KASUS).accepted
    assert accepted["id_kasus"].to_list() == ["C10", "C11", "C12", "C20", "C21", "C22", "C30", "C31", "C32"]
    result = rejected_newest(
        tmp_path / "bad", P2MI_KASUS,
        {"part1.csv": os.urandom(200_000), "part2.csv": KASUS_HEADER.encode(), "part3.csv": GOOD_KASUS.encode()},
        {"kasus.csv": GOOD_KASUS.encode()},
    )
    [(_, message)] = result.rejected
    assert message.startswith("p2mi_kasus/2026-11-27/part1.csv: not a text CSV file"), message


def test_rejection_reason_reaches_the_ui_on_a_failed_check(tmp_path):
    landing = tmp_path / "landing"
    delivery(landing, "p2mi_kasus", "2026-10-01", {"kasus.csv": GOOD_KASUS.encode()})
    delivery(landing, "p2mi_kasus", "2026-11-27", {"kasus.csv": os.urandom(2000)})
    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(tmp_path / "data"), pseudonym_key="k"),
        "warehouse": Warehouse(path=str(tmp_path / "data" / "w.duckdb")),
    }
    result = dg.materialize([build_raw_asset(P2MI_KASUS)], resources=resources, raise_on_error=False)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["newest_delivery_used"].passed
    description = checks["newest_delivery_used"].description
    assert "rejected p2mi_kasus/2026-11-27: p2mi_kasus/2026-11-27/kasus.csv: not a text CSV file" in description
    assert description.endswith("using p2mi_kasus/2026-10-01 instead")
    assert checks["rows_reconcile"].passed


# --- damaged rows: quarantined with file, row and reason; the rest of the file is kept ------------

def quarantined(result) -> dict[int, dict]:
    return {row["row_number"]: row for row in result.quarantined.iter_rows(named=True)}


def test_truncated_csv_ending_inside_a_quoted_field(tmp_path):
    text = KASUS_HEADER + KASUS_ROW.format(n=1) + KASUS_ROW.format(n=2) + 'C3,"SITI AMINAH,KAMBO'
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["id_kasus"].to_list() == ["C1", "C2"]
    q = quarantined(result)
    assert list(q) == [4]
    assert q[4]["rule"] == "unterminated_quote"
    assert q[4]["file"] == "p2mi_kasus/2026-11-27/k.csv"
    assert q[4]["reason"].startswith("a quoted field opened on this line is never closed: the file ends inside it")
    assert result.ledger.select("rows_read", "accepted", "quarantined").row(0) == (3, 2, 1)


def test_truncated_csv_cut_in_the_middle_of_a_row(tmp_path):
    text = KASUS_HEADER + KASUS_ROW.format(n=1) + "C2,WATI,KAMB"
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["id_kasus"].to_list() == ["C1"]
    assert quarantined(result)[3]["reason"] == "has 3 fields where the header has 5 (the last row of the file: truncated?)"


def test_stray_quote_costs_one_row_not_the_rest_of_the_file(tmp_path):
    # The lenient csv module would read lines 3-6 into one field and accept that as one row.
    text = KASUS_HEADER + KASUS_ROW.format(n=1) + 'C2,"WATI,KAMBOJA,TPPO,2026-01-20\n' + "".join(
        KASUS_ROW.format(n=n) for n in (3, 4, 5)
    )
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["id_kasus"].to_list() == ["C1", "C3", "C4", "C5"]
    assert result.accepted["_row_number"].to_list() == [2, 4, 5, 6]
    q = quarantined(result)
    assert list(q) == [3] and q[3]["rule"] == "unterminated_quote"
    assert "lines 3-6 were swallowed" in q[3]["reason"]


def test_stray_quote_closed_later_quarantines_the_lines_it_opened_on(tmp_path):
    # Lenient parsing reads lines 2-4 as one row with the right field count: C2 would vanish.
    text = (KASUS_HEADER + 'C1,"WATI,KAMBOJA,TPPO,2026-01-20\n' + KASUS_ROW.format(n=2)
            + 'C3,ANI",KAMBOJA,TPPO,2026-01-20\n' + KASUS_ROW.format(n=4))
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    q = quarantined(result)
    assert q[2]["rule"] == "unbalanced_quote"
    assert q[2]["reason"].startswith("a quoted field opened on this line runs over lines 2-4, which hold rows")
    assert list(q) == [2]
    # Read again on its own, the closing line is a row whose name keeps the stray quote (raw text).
    assert result.accepted["id_kasus"].to_list() == ["C2", "C3", "C4"]
    assert result.accepted["nama"][1] == 'ANI"'
    assert result.rows_read == result.accepted.height + result.quarantined.height == 4


def test_a_quoted_value_over_several_lines_is_still_one_row(tmp_path):
    text = KASUS_HEADER + 'C1,"WATI\nBINTI ALI\nRT 01, RW 02",KAMBOJA,TPPO,2026-01-20\n' + KASUS_ROW.format(n=2)
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["nama"].to_list() == ["WATI\nBINTI ALI\nRT 01, RW 02", "WATI 2"]
    assert result.accepted["_row_number"].to_list() == [2, 5]
    assert result.quarantined.height == 0


def test_mixed_encodings_in_one_file_are_decoded_line_by_line(tmp_path):
    # A UTF-8 export to which a Windows-1252 tool appended a line: no line may turn into mojibake.
    utf8 = (KASUS_HEADER + "C1,JOSÉ ’ALI,KAMBOJA,TPPO,2026-01-20\n").encode("utf-8")
    cp1252 = "C2,FRANÇOIS ’ANI,KAMBOJA,TPPO,2026-01-20\n".encode("cp1252")
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": b"\xef\xbb\xbf" + utf8 + cp1252})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["nama"].to_list() == ["JOSÉ ’ALI", "FRANÇOIS ’ANI"]
    assert result.quarantined.height == 0
    [note] = [n for n in result.notes if "mixed encodings" in n]
    assert note == (
        "p2mi_kasus/2026-11-27/k.csv: mixed encodings; 1 line(s) are not UTF-8 and were read as "
        "Windows-1252 (lines 3), the other lines as UTF-8"
    )


def test_whole_file_in_windows_1252_has_no_note(tmp_path):
    text = KASUS_HEADER + "C1,FRANÇOIS ’ANI,KAMBOJA,TPPO,2026-01-20\n"
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode("cp1252")})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["nama"].to_list() == ["FRANÇOIS ’ANI"]
    assert result.notes == []


def test_odd_headers_and_extra_columns(tmp_path):
    header = "\ufeff ID_KASUS\t,Nama ,  NEGARA,Jenis_Kasus,TGL_PENGADUAN , Catatan Petugas\n"
    delivery(tmp_path, "p2mi_kasus", "2026-11-27",
             {"k.csv": (header + "C1,WATI,KAMBOJA,TPPO,2026-01-20,dirujuk\n").encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    row = result.accepted.row(0, named=True)
    assert (row["id_kasus"], row["nama"], row["catatan petugas"]) == ("C1", "WATI", "dirujuk")
    assert row["nik"] is None  # optional column absent


def test_duplicate_primary_keys_across_parts_of_a_delivery(tmp_path):
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {
        "a.csv": (KASUS_HEADER + KASUS_ROW.format(n=1) + KASUS_ROW.format(n=2)).encode(),
        "b.csv": (KASUS_HEADER + "C2,WATI 9,KAMBOJA,TPPO,2026-01-20\n" + KASUS_ROW.format(n=1)).encode(),
    })
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["id_kasus"].to_list() == ["C1"]
    rows = result.quarantined.select("file", "row_number", "rule", "reason").rows()
    assert rows == [
        ("p2mi_kasus/2026-11-27/a.csv", 3, "conflicting_primary_key", "primary key id_kasus appears in 2 rows with different content"),
        ("p2mi_kasus/2026-11-27/b.csv", 2, "conflicting_primary_key", "primary key id_kasus appears in 2 rows with different content"),
        ("p2mi_kasus/2026-11-27/b.csv", 3, "exact_repeat", "exact repeat of row 2 of p2mi_kasus/2026-11-27/a.csv"),
    ]


# --- a large file: 100,000 rows, exactly 1% bad, reconciled exactly -------------------------------

def test_100000_rows_with_one_percent_bad_reconcile_exactly(tmp_path):
    n, bad_each = 100_000, 200  # five kinds of bad rows, 200 each: 1,000 = 1%
    ids = [f"D{i:06d}" for i in range(n)]
    frame = pl.DataFrame({
        "id_individu": ids,
        "id_keluarga": [f"K{i // 4:06d}" for i in range(n)],
        "nik": [f"3212{i:012d}" for i in range(n)],
        "nama": [f"WARGA {i}" for i in range(n)],
        "jenis_kelamin": ["L", "P"] * (n // 2),
        "tanggal_lahir": ["1985-07-01"] * n,
        "desil": [str(1 + i % 10) for i in range(n)],
    })
    lines = [",".join(row) for row in frame.iter_rows()]
    # In each block of 500 rows, rows 1-4 are bad; in the first 100 blocks also rows 5 and 6.
    # Row i of the frame is line i + 2 of the file (line 1 is the header).
    kinds: dict[int, str] = {}
    for k in range(bad_each):
        base = 500 * k
        lines[base + 1] = lines[base + 1].rsplit(",", 2)[0]
        kinds[base + 1] = "field_count"
        lines[base + 2] = "," + lines[base + 2].split(",", 1)[1]
        kinds[base + 2] = "no_primary_key"
        parts = lines[base + 3].split(",")
        parts[2], parts[3] = "", "-"
        lines[base + 3] = ",".join(parts)
        kinds[base + 3] = "no_name_or_nik"
        lines[base + 4] = lines[base]  # the repeat goes, the first (row `base`) stays
        kinds[base + 4] = "exact_repeat"
        if k < bad_each // 2:
            # Row base+5 takes the key of row base+6 with other content: both copies go.
            lines[base + 5] = ids[base + 6] + "," + lines[base + 5].split(",", 1)[1]
            kinds[base + 5] = kinds[base + 6] = "conflicting_primary_key"
    assert len(kinds) == 1_000
    text = "id_individu,id_keluarga,nik,nama,jenis_kelamin,tanggal_lahir,desil\n" + "\n".join(lines) + "\n"
    landing = tmp_path / "landing"
    delivery(landing, "dtsen_individu", "2026-11-27", {"dtsen.csv": text.encode()})

    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(tmp_path / "data"), pseudonym_key="k",
                             max_quarantine_share=0.01),
        "warehouse": Warehouse(path=str(tmp_path / "data" / "w.duckdb")),
    }
    result = dg.materialize([build_raw_asset(DTSEN_INDIVIDU)], resources=resources)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["rows_reconcile"].passed and checks["quarantine_share_within_limit"].passed
    assert "1000 of 100000 rows" in checks["quarantine_share_within_limit"].description
    warehouse = resources["warehouse"]
    ledger = warehouse.read("raw.dtsen_individu__files").row(0, named=True)
    assert (ledger["rows_read"], ledger["accepted"], ledger["quarantined"]) == (100_000, 99_000, 1_000)
    assert warehouse.query("SELECT count(*) n FROM raw.dtsen_individu")["n"][0] == 99_000
    q = warehouse.read("raw.dtsen_individu__quarantine")
    # Exactly the planted rows, each for its own reason, row numbers as lines of the file.
    assert dict(zip(q["row_number"].to_list(), q["rule"].to_list())) == {i + 2: r for i, r in kinds.items()}
    by_rule = dict(q.group_by("rule").len().rows())
    assert by_rule == {"field_count": 200, "no_primary_key": 200, "no_name_or_nik": 200,
                       "exact_repeat": 200, "conflicting_primary_key": 200}
