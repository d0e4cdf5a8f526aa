"""Retention (PADU_RETENTION_DAYS): after a good run, deliveries older than the period are deleted
from the landing folder, but never the delivery in use or one newer than it, and nothing of a
source that has no accepted delivery tonight. What was removed is logged."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.sources.assets import WIB, landing_retention, raw_source_assets
from assets.warehouse import PaduSettings, Warehouse, env_settings

TODAY = datetime.now(WIB).date()

ROWS = {
    "dtsen_individu": "id_individu,id_keluarga,nik,nama,jenis_kelamin,tanggal_lahir,desil\n"
                      "D1,K1,3212014107850001,SITI,P,1985-07-01,2\n",
    "p2mi_kasus": "id_kasus,nama,negara,jenis_kasus,tgl_pengaduan\nC1,WATI,KAMBOJA,TPPO,2026-01-20\n",
    "sr_siswa": "id_siswa,nama_siswa,jenis_kelamin,tanggal_lahir,nama_sekolah,jenjang,status_siswa\n"
                "S1,BUDI,L,2010-01-02,SRMA 13 BEKASI,SMA,AKTIF\n",
}


def delivery(landing: Path, source: str, days_ago: int, text: str | bytes, complete: bool = True) -> str:
    day = (TODAY - timedelta(days=days_ago)).isoformat()
    folder = landing / source / day
    folder.mkdir(parents=True)
    (folder / "part.csv").write_bytes(text if isinstance(text, bytes) else text.encode())
    if complete:
        (folder / "_SUCCESS").write_bytes(b"")
    return f"{source}/{day}"


def run(landing: Path, data: Path, retention_days: int | None):
    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(data), pseudonym_key="k",
                             retention_days=retention_days),
        "warehouse": Warehouse(path=str(data / "w.duckdb")),
    }
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([*raw_source_assets, landing_retention], resources=resources, instance=instance,
                            raise_on_error=False)
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    return result, messages


def remaining(landing: Path) -> set[str]:
    return {f"{p.parent.name}/{p.name}" for p in landing.glob("*/*") if p.is_dir()}


@pytest.fixture
def landing(tmp_path):
    landing = tmp_path / "landing"
    labels = {
        "dtsen_old": delivery(landing, "dtsen_individu", 100, ROWS["dtsen_individu"]),
        "dtsen_older_incomplete": delivery(landing, "dtsen_individu", 200, ROWS["dtsen_individu"], complete=False),
        "dtsen_mid": delivery(landing, "dtsen_individu", 60, ROWS["dtsen_individu"]),
        "dtsen_new": delivery(landing, "dtsen_individu", 5, ROWS["dtsen_individu"]),
        "kasus_only": delivery(landing, "p2mi_kasus", 400, ROWS["p2mi_kasus"]),
        "sr_old": delivery(landing, "sr_siswa", 90, ROWS["sr_siswa"]),
        "sr_in_use": delivery(landing, "sr_siswa", 45, ROWS["sr_siswa"]),
        "sr_rejected": delivery(landing, "sr_siswa", 40, ROWS["sr_siswa"].splitlines()[0] + "\n"),
        "penempatan_rejected": delivery(landing, "p2mi_penempatan", 80, b"\x00\x01" * 50),
    }
    (landing / "dtsen_individu" / "latest").mkdir()  # not a delivery: never touched
    (landing / "_truth").mkdir()
    return landing, labels


def test_expired_deliveries_are_removed_but_never_the_one_in_use(tmp_path, landing):
    landing, labels = landing
    result, messages = run(landing, tmp_path / "data", retention_days=30)
    assert result.success
    removed = {labels[k] for k in ("dtsen_old", "dtsen_older_incomplete", "dtsen_mid", "sr_old")}
    assert remaining(landing) == {
        labels[k] for k in ("dtsen_new", "kasus_only", "sr_in_use", "sr_rejected", "penempatan_rejected")
    } | {"dtsen_individu/latest"}
    for label in removed:
        assert f"removed delivery {label}: older than 30 days" in messages
    assert "p2mi_penempatan: no accepted delivery tonight, so none of its deliveries is removed" in messages
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key == dg.AssetKey(["housekeeping", "landing_retention"])]
    metadata = event.materialization.metadata
    assert metadata["removed"].value == 4
    assert set(metadata["removed_deliveries"].value.splitlines()) == removed
    assert (landing / "_truth").is_dir()


def test_without_a_retention_setting_everything_is_kept(tmp_path, landing):
    landing, labels = landing
    before = remaining(landing)
    result, messages = run(landing, tmp_path / "data", retention_days=None)
    assert result.success
    assert remaining(landing) == before
    assert "PADU_RETENTION_DAYS is not set: every delivery is kept" in messages


def test_retention_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("PADU_RETENTION_DAYS", "90")
    assert env_settings()[0].retention_days == 90
    monkeypatch.setenv("PADU_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="PADU_RETENTION_DAYS must be a whole number of days, at least 1"):
        env_settings()
    monkeypatch.delenv("PADU_RETENTION_DAYS")
    assert env_settings()[0].retention_days is None
