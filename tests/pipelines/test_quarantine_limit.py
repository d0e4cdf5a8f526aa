"""A delivery with too many quarantined rows stops the run before linkage and leaves the last
published tables as they were, with the reason on the failed check."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl

from assets.warehouse import PaduSettings, Warehouse
from pipelines.definitions import ALL_ASSETS
from synthetic.generator import generate_deliveries


def test_too_many_quarantined_rows_stop_the_run_and_keep_published_tables(tmp_path):
    landing = tmp_path / "landing"
    generate_deliveries(landing, persons=500, progress=False)
    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(tmp_path / "data"), pseudonym_key="k"),
        "warehouse": Warehouse(path=str(tmp_path / "data" / "warehouse.duckdb")),
    }
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(ALL_ASSETS, resources=resources, instance=instance).success
    published = tmp_path / "data" / "published"
    before = pl.read_parquet(published / "person_records.parquet")
    manifest_before = (published / "_manifest.json").read_text()

    # A new SR delivery where 2 of 3 rows have no primary key.
    newer = landing / "sr_siswa" / "2026-11-28"
    newer.mkdir()
    (newer / "siswa.csv").write_text(
        "id_siswa,nama_siswa,jenis_kelamin,tanggal_lahir,nama_sekolah,jenjang,status_siswa\n"
        "S1,BUDI,L,2010-01-02,SRMA 13 BEKASI,SMA,AKTIF\n"
        ",ANI,P,2010-03-04,SRMA 13 BEKASI,SMA,AKTIF\n"
        ",SITI,P,2011-05-06,SRMA 13 BEKASI,SMA,AKTIF\n"
    )
    (newer / "_SUCCESS").write_text("")
    result = dg.materialize(ALL_ASSETS, resources=resources, instance=instance, raise_on_error=False)

    check = next(e for e in result.get_asset_check_evaluations()
                 if e.check_name == "quarantine_share_within_limit" and e.asset_key.path[-1] == "sr_siswa")
    assert not check.passed
    assert "2 of 3 rows" in check.description and "limit is 25%" in check.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "raw/sr_siswa" in materialized
    assert not {"staging/sr_siswa", "linkage/clusters", "published/persons"} & materialized
    assert (published / "_manifest.json").read_text() == manifest_before
    assert pl.read_parquet(published / "person_records.parquet").equals(before)
    shutil.rmtree(newer)
