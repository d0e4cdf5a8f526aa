"""Ingest rules of contract section 1 on small hand-made deliveries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from assets.sources.contracts import CONTRACTS, DTSEN_INDIVIDU, P2MI_KASUS, P2MI_PENEMPATAN
from assets.sources.deliveries import complete_deliveries_fingerprint, scan_landing
from assets.sources.ingest import ingest_source
from assets.sources.quarantine import row_content_hash
from tests.sources.landing import delivery

DTSEN_HEADER = "id_individu;id_keluarga;nik;no_kk;nama;jenis_kelamin;tanggal_lahir;desil;alamat"


def test_cp1252_semicolon_csv_with_quoted_newline_is_read_whole(tmp_path):
    text = (
        DTSEN_HEADER + "\r\n"
        'D1;K1;3212014107850001;3212010101100001;SITI NURHAYATI;P;01-07-1985;2;"Jl. Mawar; RT 01\nDesa Juntinyuat"\r\n'
        "D2;K1;3212011203800002;3212010101100001;JOSÉ ’ALI;L;12-03-1980;2;-\r\n"
    )
    delivery(tmp_path, "dtsen_individu", "2026-11-27", {"part1.csv": text.encode("cp1252")})
    result = ingest_source(tmp_path, DTSEN_INDIVIDU)
    assert result.accepted.height == 2
    assert result.quarantined.height == 0
    first = result.accepted.row(0, named=True)
    assert first["alamat"] == "Jl. Mawar; RT 01\nDesa Juntinyuat"
    assert first["_row_number"] == 2
    second = result.accepted.row(1, named=True)
    assert second["nama"] == "JOSÉ ’ALI"
    assert second["_row_number"] == 4  # the quoted newline makes record 1 span lines 2-3
    assert second["penerima_pkh"] is None  # optional column absent from the file
    assert result.accepted["_delivery_date"].to_list() == [dt.date(2026, 11, 27)] * 2


def test_row_rules_quarantine_with_file_row_and_reason(tmp_path):
    header = "ID_INDIVIDU , Id_Keluarga,nik,nama,jenis_kelamin,tanggal_lahir,desil,keterangan\n"
    rows = [
        "D1,K1,3212014107850001,SITI,P,1985-07-01,2,ok",         # line 2 accepted
        "D2,K1,3212011203800002,BUDI,L,1980-03-12,2",            # line 3 too few fields
        ",K1,3212011203800003,ANI,P,1980-03-12,2,x",             # line 4 no primary key
        "D3,K2,3212011203800004,JOKO,L,1980-03-12,3,x",          # line 5 conflicting key
        "D3,K2,3212011203800004,DJOKO,L,1980-03-12,3,x",         # line 6 conflicting key
        "D1,K1,3212014107850001,SITI,P,1985-07-01,2,ok",         # line 7 exact repeat of line 2
        "D4,K3,-,,L,1980-03-12,4,x",                             # line 8 neither name nor NIK
        "D5,K3,,ASEP,L,1990-01-02,11,x",                         # line 9 accepted (bad desil stays)
    ]
    delivery(tmp_path, "dtsen_individu", "2026-11-27",
             {"a.csv": "\ufeff".encode() + (header + "\n".join(rows) + "\n").encode()})
    result = ingest_source(tmp_path, DTSEN_INDIVIDU)
    assert result.accepted["id_individu"].to_list() == ["D1", "D5"]
    assert "keterangan" in result.accepted.columns  # extra columns are kept in the raw layer
    q = {row["row_number"]: row for row in result.quarantined.iter_rows(named=True)}
    assert sorted(q) == [3, 4, 5, 6, 7, 8]
    assert q[3]["rule"] == "field_count" and "7 fields where the header has 8" in q[3]["reason"]
    assert q[4]["rule"] == "no_primary_key"
    assert q[5]["rule"] == q[6]["rule"] == "conflicting_primary_key"
    assert q[7]["rule"] == "exact_repeat" and q[7]["reason"] == "exact repeat of row 2 of dtsen_individu/2026-11-27/a.csv"
    assert q[8]["rule"] == "no_name_or_nik"
    assert all(r["file"] == "dtsen_individu/2026-11-27/a.csv" for r in q.values())
    ledger = result.ledger.row(0, named=True)
    assert (ledger["rows_read"], ledger["accepted"], ledger["quarantined"]) == (8, 2, 6)


def test_row_rules_same_with_and_without_columns_beyond_the_contract(tmp_path):
    """Without extra columns the row hash stands for the content; with one, the content is still
    the contract's columns: rows that differ only in an extra column are exact repeats."""
    rows = [
        "D1,K1,3212014107850001,SITI,P,1985-07-01,2,ok",
        "D1,K1,3212014107850001,SITI,P,1985-07-01,2,typed again",
        "D3,K2,3212011203800004,JOKO,L,1980-03-12,3,x",
        "D3,K2,3212011203800004,DJOKO,L,1980-03-12,3,x",
        "D4,K3,-,,L,1980-03-12,4,x",
        "D5,K3,,ASEP,L,1990-01-02,11,x",
    ]
    header = "id_individu,id_keluarga,nik,nama,jenis_kelamin,tanggal_lahir,desil,keterangan"
    results = []
    for name, keep in (("extra", 8), ("contract", 7)):
        text = "\n".join(",".join(line.split(",")[:keep]) for line in [header, *rows]) + "\n"
        delivery(tmp_path / name, "dtsen_individu", "2026-11-27", {"a.csv": text.encode()})
        result = ingest_source(tmp_path / name, DTSEN_INDIVIDU)
        results.append(result)
        assert ("keterangan" in result.accepted.columns) == (keep == 8)
    for result in results:
        assert result.accepted["id_individu"].to_list() == ["D1", "D5"]
        assert result.quarantined.select("row_number", "rule").rows() == [
            (3, "exact_repeat"), (4, "conflicting_primary_key"), (5, "conflicting_primary_key"),
            (6, "no_name_or_nik"),
        ]
    extra, contract = results
    assert extra.accepted["_row_hash"].to_list() != contract.accepted["_row_hash"].to_list()


def _xlsx(path: Path, header: list[str], rows: list[list]) -> bytes:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return path.read_bytes()


def test_row_content_hash_tells_rows_apart_by_value_and_column_not_by_column_order():
    rows = pl.DataFrame({
        "a": ["x", "y", "x", "", None, "x", "x"],
        "b": ["y", "x", "y", None, "", "y", "y"],
        "c": ["z", "z", "z", "z", "z", "Z", "z"],
    })
    hashes = rows.select(row_content_hash(["a", "b", "c"], 0))[:, 0].to_list()
    # Rows 0, 2 and 6 are one content; swapped values (1), an empty value against a null (3, 4)
    # and a change in case (5) are other contents.
    assert hashes[0] == hashes[2] == hashes[6]
    assert len({hashes[0], hashes[1], *hashes[3:6]}) == 5
    # The order of the columns does not count; the seed does, for every row.
    reordered = rows.select("c", "a", "b").select(row_content_hash(["c", "b", "a"], 0))[:, 0].to_list()
    assert reordered == hashes
    second = rows.select(row_content_hash(["a", "b", "c"], 1))[:, 0].to_list()
    assert all(one != two for one, two in zip(hashes, second))
    # Nothing beyond the named columns counts.
    wider = rows.with_columns(pl.Series("d", range(7))).select(row_content_hash(["a", "b", "c"], 0))[:, 0]
    assert wider.to_list() == hashes


def test_mixed_formats_numbers_become_digits(tmp_path):
    header = ["id_penempatan", "nik", "nama_lengkap", "jenis_kelamin", "tanggal_lahir",
              "negara_penempatan", "status_penempatan"]
    xlsx = _xlsx(tmp_path / "x.xlsx", header, [
        [202500001, 3212014107850001, "SITI AMINAH", "P", dt.date(1985, 7, 1), "HONG KONG", "BEKERJA"],
        ["202500002", "3212011203800002", "BUDI", "L", "12-03-1980", "TAIWAN", "PROSES"],
    ])
    parquet_path = tmp_path / "p.parquet"
    pl.DataFrame({
        "id_penempatan": [202500003], "nik": [3212011203800003], "nama_lengkap": ["ANI"],
        "jenis_kelamin": ["P"], "tanggal_lahir": [dt.date(1990, 1, 2)],
        "negara_penempatan": ["MALAYSIA"], "status_penempatan": ["TERDAFTAR"],
    }).write_parquet(parquet_path)
    delivery(tmp_path, "p2mi_penempatan", "2026-11-27",
             {"part1.xlsx": xlsx, "part2.parquet": parquet_path.read_bytes(),
              "~$part1.xlsx": b"lock", "README.txt": b"notes"})
    result = ingest_source(tmp_path, P2MI_PENEMPATAN)
    frame = result.accepted.sort("id_penempatan")
    assert frame["id_penempatan"].to_list() == ["202500001", "202500002", "202500003"]
    assert frame["nik"].to_list() == ["3212014107850001", "3212011203800002", "3212011203800003"]
    assert frame["tanggal_lahir"].to_list()[0].startswith("1985-07-01")
    assert frame["tanggal_lahir"].to_list()[2] == "1990-01-02"
    assert frame.filter(pl.col("id_penempatan") == "202500001")["_row_number"].item() == 2
    assert any("README.txt" in n for n in result.notes)
    assert any("~$part1.xlsx" in n for n in result.notes)


def test_missing_required_column_rejects_delivery_and_falls_back(tmp_path):
    good = "id_kasus,nama,negara,jenis_kasus,tgl_pengaduan\nC1,WATI,KAMBOJA,TPPO,2026-01-20\n"
    bad = "id_kasus,nama,negara,tgl_pengaduan\nC1,WATI,KAMBOJA,2026-01-20\n"
    delivery(tmp_path, "p2mi_kasus", "2026-10-01", {"kasus.csv": good.encode()})
    delivery(tmp_path, "p2mi_kasus", "2026-11-01", {"kasus.csv": bad.encode()})
    delivery(tmp_path, "p2mi_kasus", "2026-11-20", {"kasus.csv": good.encode()}, complete=False)
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.delivery.delivery_date == dt.date(2026, 10, 1)
    assert result.rejected == [
        ("p2mi_kasus/2026-11-01", "p2mi_kasus/2026-11-01/kasus.csv: required column 'jenis_kasus' is missing")
    ]
    assert any("2026-11-20" in n and "_SUCCESS" in n for n in result.notes)
    assert result.accepted["id_kasus"].to_list() == ["C1"]


def test_unreadable_file_rejects_delivery(tmp_path):
    delivery(tmp_path, "sr_siswa", "2026-11-27", {"siswa.xlsx": b"\x00\x01garbage" * 100})
    result = ingest_source(tmp_path, CONTRACTS["sr_siswa"])
    assert result.delivery is None
    assert result.accepted.height == 0
    assert "cannot be read as an Excel workbook" in result.rejected[0][1]
    assert any("source is empty" in n for n in result.notes)


def test_scan_warns_about_unknown_folders_and_fingerprint_tracks_complete_deliveries(tmp_path):
    (tmp_path / "kemenkes").mkdir()
    (tmp_path / "_truth").mkdir()
    (tmp_path / "dtsen_individu" / "latest").mkdir(parents=True)
    before = complete_deliveries_fingerprint(tmp_path)
    folder = delivery(tmp_path, "dtsen_individu", "2026-11-27", {"a.csv": b"x\n"}, complete=False)
    assert complete_deliveries_fingerprint(tmp_path) == before  # incomplete: not yet a delivery
    (folder / "_SUCCESS").write_bytes(b"")
    assert complete_deliveries_fingerprint(tmp_path) != before
    warnings = scan_landing(tmp_path).warnings
    assert any("kemenkes" in w for w in warnings)
    assert any("latest" in w for w in warnings)
    assert not any("_truth" in w for w in warnings)


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    text = delimiter.join(["id_kasus", "nama", "negara", "jenis_kasus", "tgl_pengaduan"]) + "\n"
    text += delimiter.join(["C1", '"WATI, BINTI ALI"', "KAMBOJA", "TPPO", "20-01-2026"]) + "\n"
    delivery(tmp_path, "p2mi_kasus", "2026-11-27", {"k.csv": text.encode()})
    result = ingest_source(tmp_path, P2MI_KASUS)
    assert result.accepted["nama"].to_list() == ["WATI, BINTI ALI"]


def test_a_row_hashes_the_same_in_a_part_of_its_own_and_beside_a_part_with_an_extra_column(tmp_path):
    # Each part's rows are hashed as the part is read; where the parts' columns differ, the
    # delivery's rows are hashed again over all of them, the missing extra column null.
    header = "id_individu,id_keluarga,nik,nama,jenis_kelamin,tanggal_lahir,desil"
    first, second = "D1,K1,3212014107850001,SITI,P,1985-07-01,2", "D2,K1,3212011203800002,BUDI,L,1980-03-12,2"
    delivery(tmp_path / "apart", "dtsen_individu", "2026-11-27", {
        "a.csv": f"{header},keterangan\n{first},ok\n".encode(), "b.csv": f"{header}\n{second}\n".encode()})
    delivery(tmp_path / "same", "dtsen_individu", "2026-11-27", {
        "a.csv": f"{header}\n{first}\n".encode(), "b.csv": f"{header}\n{second}\n".encode()})
    apart, same = (ingest_source(tmp_path / name, DTSEN_INDIVIDU).accepted for name in ("apart", "same"))
    assert apart["id_individu"].to_list() == same["id_individu"].to_list() == ["D1", "D2"]
    assert apart["keterangan"].to_list() == ["ok", None]

    def hashes(frame: pl.DataFrame) -> list[tuple[int, int]]:
        delivered = [c for c in frame.columns if not c.startswith("_")]
        return frame.select(row_content_hash(delivered, 0), row_content_hash(delivered, 1).alias("h2")).rows()

    assert apart.select("_row_hash", "_row_hash_2").rows() == hashes(apart)
    assert same.select("_row_hash", "_row_hash_2").rows() == hashes(same)
    # D2 is hashed with the extra column where a part has it, without it where no part has.
    assert apart["_row_hash"][1] != same["_row_hash"][1] and apart["_row_hash"][0] != same["_row_hash"][0]
