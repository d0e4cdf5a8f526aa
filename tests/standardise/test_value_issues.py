"""Present but invalid values (contract 1.1): the row is accepted, the standardised value is null
with a flag saying why, and the raw text is kept in the raw layer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from assets.sources.assets import build_raw_asset
from assets.sources.contracts import DTSEN_INDIVIDU, P2MI_KASUS, P2MI_PENEMPATAN
from assets.sources.ingest import ingest_source
from assets.standardise.assets import build_staging_asset
from assets.standardise.issues import flag_invalid_values
from assets.standardise.sources import STAGERS
from assets.warehouse import PaduSettings, Warehouse

DTSEN = (
    "id_individu,id_keluarga,nik,nama,jenis_kelamin,tanggal_lahir,desil,penerima_pkh\n"
    "D1,K1,3212014107850001,SITI,P,01-07-1985,2,Y\n"
    "D2,K1,3212011203800002,BUDI,L,31-02-1980,sepuluh,mungkin\n"   # impossible date, desil not a number
    "D3,K1,3212011203800003,ANI,X,2030-01-01,11,T\n"               # birth date after delivery, desil > 10
    "D4,K2,3212011203800004,JOKO,L,kemarin dulu,0,\n"              # unparseable date, desil 0
)


def write_delivery(landing: Path, source: str, text: str) -> None:
    folder = landing / source / "2026-11-27"
    folder.mkdir(parents=True)
    (folder / "part.csv").write_text(text)
    (folder / "_SUCCESS").write_text("")


def staged(landing: Path, contract) -> pl.DataFrame:
    raw = ingest_source(landing, contract).accepted
    return flag_invalid_values(contract.name, raw, STAGERS[contract.name](raw))


def test_invalid_dates_and_desil_are_flagged_and_the_rows_kept(tmp_path):
    write_delivery(tmp_path, "dtsen_individu", DTSEN)
    frame = staged(tmp_path, DTSEN_INDIVIDU).sort("id_individu")
    assert frame["id_individu"].to_list() == ["D1", "D2", "D3", "D4"]  # every row accepted
    assert frame["value_issues"].to_list() == [
        [],
        ["desil: not a number", "penerima_pkh: not a yes/no value", "tanggal_lahir: not a date"],
        ["jenis_kelamin: not a sex code", "desil: outside 1-10", "tanggal_lahir: after the delivery date"],
        ["desil: outside 1-10", "tanggal_lahir: not a date"],
    ]
    assert frame["desil"].to_list() == [2, None, None, None]
    assert frame["birth_date_issue"].to_list() == [None, "unparseable", "after_reference_date", "unparseable"]
    # The birth date falls back to the one the NIK encodes; the typed one is never guessed.
    assert frame["birth_date"][0] == dt.date(1985, 7, 1)
    assert frame["tanggal_lahir"].to_list() == ["01-07-1985", "31-02-1980", "2030-01-01", "kemarin dulu"]


def test_the_raw_text_of_a_replaced_column_is_matched_by_row_whatever_the_order(tmp_path):
    """desil is replaced by its standardised value: its raw text comes back side by side when the
    stager kept the rows in order, and by file and row number when it did not."""
    write_delivery(tmp_path, "dtsen_individu", DTSEN)
    raw = ingest_source(tmp_path, DTSEN_INDIVIDU).accepted
    stager = STAGERS["dtsen_individu"]
    in_order = flag_invalid_values("dtsen_individu", raw, stager(raw))
    shuffled = flag_invalid_values("dtsen_individu", raw, stager(raw).reverse())
    assert shuffled.reverse().equals(in_order)
    assert in_order["value_issues"].list.join("|").to_list()[1].startswith("desil: not a number")


def test_event_dates_in_the_future_are_valid_and_unparseable_ones_flagged(tmp_path):
    text = (
        "id_penempatan,nik,nama_lengkap,jenis_kelamin,tanggal_lahir,negara_penempatan,status_penempatan,"
        "tgl_berangkat,tgl_pulang\n"
        "P1,3212014107850001,SITI,P,1985-07-01,TAIWAN,PROSES,2027-03-01,\n"      # planned departure
        "P2,3212011203800002,BUDI,L,1980-03-12,MALAYSIA,BEKERJA,2025-13-45,besok\n"
    )
    write_delivery(tmp_path, "p2mi_penempatan", text)
    frame = staged(tmp_path, P2MI_PENEMPATAN).sort("id_penempatan")
    assert frame["departure_date"].to_list() == [dt.date(2027, 3, 1), None]
    assert frame["value_issues"].to_list() == [[], ["tgl_berangkat: not a date", "tgl_pulang: not a date"]]
    assert frame["tgl_berangkat"].to_list() == ["2027-03-01", "2025-13-45"]


def test_a_placement_without_a_village_code_takes_its_address_village_and_a_bad_code_stays_an_issue(tmp_path):
    text = (
        "id_penempatan,nik,nama_lengkap,jenis_kelamin,tanggal_lahir,negara_penempatan,status_penempatan,"
        "alamat_asal,kode_desa_asal,kabkota_asal\n"
        'P1,,SITI,P,1985-07-01,TAIWAN,BEKERJA,"DUSUN KRAJAN RT 2, DS. KANIGORO, KEC. PAGELARAN",,KAB. MALANG\n'
        'P2,,BUDI,L,1980-03-12,TAIWAN,BEKERJA,"DUSUN KRAJAN RT 2, DS. KANIGORO, KEC. PAGELARAN",35.07.XX,KAB. MALANG\n'
        'P3,,ANI,P,1990-01-02,TAIWAN,BEKERJA,"DUSUN KRAJAN RT 2, DS. KANIGORO, KEC. PAGELARAN",32.12.01.2001,INDRAMAYU\n'
    )
    write_delivery(tmp_path, "p2mi_penempatan", text)
    frame = staged(tmp_path, P2MI_PENEMPATAN).sort("id_penempatan")
    # The delivered code wins; a malformed one is not replaced by the address, and is flagged.
    assert frame["village_code"].to_list() == ["3507332005", None, "3212012001"]
    assert frame["district_code"].to_list() == ["350733", None, "321201"]
    assert frame["value_issues"].to_list() == [[], ["kode_desa_asal: not a village code"], []]


def test_a_case_address_gives_its_village_and_district(tmp_path):
    text = (
        "id_kasus,nama,negara,jenis_kasus,tgl_pengaduan,jenis_kelamin,daerah_asal\n"
        'K1,ANISA SAFITRI,SINGAPORE,LAINNYA,2026-07-26,PEREMPUAN,"Desa Kanigoro, Kec. Pagelaran, Kab. Malang"\n'
        "K2,SAMSUL,KAMBOJA,PENIPUAN,2025-12-19,LAKI-LAKI,Kab. Malang\n"
    )
    write_delivery(tmp_path, "p2mi_kasus", text)
    frame = staged(tmp_path, P2MI_KASUS).sort("id_kasus")
    assert frame["regency_code"].to_list() == ["3507", "3507"]
    assert frame["village_code"].to_list() == ["3507332005", None]
    assert frame["district_code"].to_list() == ["350733", None]


def _dtsen_store(tmp_path: Path) -> tuple[Warehouse, dict]:
    """A landing folder with the DTSEN delivery above, a working store, and the run's resources."""
    landing = tmp_path / "landing"
    write_delivery(landing, "dtsen_individu", DTSEN)
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    return warehouse, {"padu": PaduSettings(landing_dir=str(landing), data_dir=str(tmp_path), pseudonym_key="k"),
                       "warehouse": warehouse}


def test_staging_asset_writes_flags_and_raw_layer_keeps_the_text(tmp_path):
    warehouse, resources = _dtsen_store(tmp_path)
    result = dg.materialize(
        [build_raw_asset(DTSEN_INDIVIDU), build_staging_asset("dtsen_individu")], resources=resources
    )
    raw = warehouse.read("raw.dtsen_individu").sort("id_individu")
    assert raw["desil"].to_list() == ["2", "sepuluh", "11", "0"]
    assert raw["tanggal_lahir"].to_list() == ["01-07-1985", "31-02-1980", "2030-01-01", "kemarin dulu"]
    flags = warehouse.query(
        "SELECT id_individu, value_issues FROM staging.dtsen_individu ORDER BY id_individu"
    )
    assert flags["value_issues"][2].to_list() == [
        "jenis_kelamin: not a sex code", "desil: outside 1-10", "tanggal_lahir: after the delivery date"
    ]
    [staging] = [e for e in result.get_asset_materialization_events()
                 if e.asset_key == dg.AssetKey(["staging", "dtsen_individu"])]
    table = staging.materialization.metadata["invalid_values"].value
    assert "| tanggal_lahir: not a date" in table and "| desil: outside 1-10" in table
    assert "SITI" not in table and "sepuluh" not in table  # counts only, never a value


def test_a_night_that_keeps_the_staged_rows_shows_the_counts_kept_with_them(tmp_path):
    warehouse, resources = _dtsen_store(tmp_path)
    assets = [build_raw_asset(DTSEN_INDIVIDU), build_staging_asset("dtsen_individu")]

    def staging_metadata() -> dict:
        result = dg.materialize(assets, resources=resources)
        [event] = [e for e in result.get_asset_materialization_events()
                   if e.asset_key == dg.AssetKey(["staging", "dtsen_individu"])]
        return {k: v.value for k, v in event.materialization.metadata.items()}

    first = staging_metadata()
    assert first["staging_mode"] == "full" and first["with_valid_nik"] >= 1
    assert "| desil: outside 1-10" in first["invalid_values"]
    kept = staging_metadata()
    assert kept["staging_mode"] == "kept"
    counted = ("nik_issues", "birth_date_issues", "invalid_values", "with_valid_nik", "with_regency")
    assert {k: kept[k] for k in counted} == {k: first[k] for k in counted}
    # Shown from the state, not counted again: the state's counts are what the night shows.
    with warehouse.transaction() as con:
        con.execute("UPDATE staging.dtsen_individu__state SET counts = "
                    "json_object('with_valid_nik', 12345, 'invalid_values', '_none_')::VARCHAR")
    again = staging_metadata()
    assert again["with_valid_nik"] == 12345 and again["invalid_values"] == "_none_"
