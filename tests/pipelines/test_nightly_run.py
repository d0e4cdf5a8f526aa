"""End to end: generated deliveries through every asset of the nightly job into the published
store, asserting on the published tables, the checks, and a second run of the same night."""

from __future__ import annotations

from pathlib import Path

import duckdb
import dagster as dg
import polars as pl
import pytest

from assets.publish.store import FORBIDDEN_COLUMNS
from assets.quality.metrics import SCORE_BANDS
from assets.warehouse import PaduSettings, Warehouse
from pipelines.definitions import ALL_ASSETS
from synthetic.generator import generate_deliveries

PERSONS = 3000


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("night")
    landing = root / "landing"
    generate_deliveries(landing, persons=PERSONS, progress=False)
    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(root / "data"), pseudonym_key="test-key"),
        "warehouse": Warehouse(path=str(root / "data" / "warehouse" / "padu_work.duckdb")),
    }
    instance = dg.DagsterInstance.ephemeral()
    first = dg.materialize(ALL_ASSETS, resources=resources, instance=instance)
    published = root / "data" / "published"
    first_tables = {t: pl.read_parquet(published / f"{t}.parquet") for t in ("persons", "person_records")}
    second = dg.materialize(ALL_ASSETS, resources=resources, instance=instance)
    return {
        "root": root, "landing": landing, "published": published, "resources": resources,
        "first": first, "second": second, "first_tables": first_tables,
    }


def test_runs_succeed_and_every_check_passes(night):
    for result in (night["first"], night["second"]):
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert {(e.asset_key.to_user_string(), e.check_name) for e in evaluations} >= {
            ("raw/dtsen_individu", "rows_reconcile"), ("raw/sr_siswa", "quarantine_share_within_limit"),
            ("linkage/clusters", "cluster_size_within_limit"), ("quality/report", "linkage_quality_targets"),
            ("linkage/model", "no_level_collapsed"),
        }
        failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations
                  if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        assert failed == []
        # A warning is allowed, and says what it found: a 3,000-person night is small enough for
        # EM to find no true pair in some level and set its m to zero.
        for e in evaluations:
            if not e.passed:
                assert e.severity == dg.AssetCheckSeverity.WARN and e.description


def test_every_accepted_record_is_published_exactly_once(night):
    warehouse: Warehouse = night["resources"]["warehouse"]
    records = pl.read_parquet(night["published"] / "person_records.parquet")
    deliveries = pl.read_parquet(night["published"] / "deliveries.parquet")
    assert records.height == records.select("source", "source_record_id").unique().height
    assert records.height == int(deliveries["accepted"].sum())
    for source in ("p2mi_penempatan", "p2mi_kasus", "dtsen_individu", "sr_siswa"):
        accepted = warehouse.read(f"raw.{source}")
        staged_ids = warehouse.read(f"staging.{source}")["source_record_id"]
        published_ids = records.filter(pl.col("source") == source)["source_record_id"]
        assert accepted.height == staged_ids.len() == published_ids.len() > 0
        assert set(published_ids.to_list()) == set(staged_ids.to_list())
    # Counts reconcile: read = accepted + quarantined, file by file.
    quarantine = pl.read_parquet(night["published"] / "quarantine.parquet")
    assert int(deliveries["rows_read"].sum()) == records.height + quarantine.height
    assert quarantine.height > 0  # the generator plants bad rows
    assert set(quarantine.columns) == {"source", "delivery_date", "file", "row_number", "rule", "reason"}


def test_published_tables_hold_no_identifiers_in_clear(night):
    con = duckdb.connect(str(night["published"] / "padu.duckdb"), read_only=True)
    tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
    assert {"persons", "person_records", "person_id_events", "household_links", "parent_links",
            "quarantine", "deliveries", "run_info"} <= set(tables)
    truth_niks = set()
    for part in night["landing"].glob("dtsen_individu/*/*.csv"):
        frame = pl.read_csv(part, infer_schema=False, separator=";" if b";" in part.read_bytes()[:500] else ",",
                            encoding="utf8-lossy")
        nik_col = next(c for c in frame.columns if c.strip().lower() == "nik")
        truth_niks |= {v for v in frame[nik_col].drop_nulls().to_list() if len(v) == 16}
    assert len(truth_niks) > 100
    for table in tables:
        frame = con.sql(f'SELECT * FROM "{table}"').pl()
        assert not FORBIDDEN_COLUMNS.intersection(frame.columns), table
        text = frame.select(pl.all().cast(pl.String)).to_numpy().ravel().tolist()
        assert not truth_niks.intersection(v for v in text if v), table
    con.close()


def test_persons_have_status_and_quality_meets_targets(night):
    persons = pl.read_parquet(night["published"] / "persons.parquet")
    assert persons["person_id"].is_unique().all()
    assert set(persons["migrant_phase"].unique()) <= {"before", "during", "after", "none"}
    assert {"before", "during", "after", "none"} == set(persons["migrant_phase"].unique())
    assert persons["troubled_worker"].sum() > 0 and persons["trafficking_victim"].sum() > 0
    assert persons["bansos_eligible"].sum() > 0 and persons["sr_enrolled"].sum() > 0
    eligible = persons.filter(pl.col("bansos_eligible"))
    assert eligible["dtsen_desil"].is_between(1, 4).all()
    assert persons.filter(pl.col("nik_token").is_not_null())["nik_token"].str.len_chars().eq(32).all()
    warehouse = night["resources"]["warehouse"]
    report = warehouse.read("quality.report").row(0, named=True)
    assert report["pairwise_precision"] >= 0.99
    assert report["pairwise_recall"] >= 0.95
    # Every scored pair from the first band up is counted once, and its counts agree with the pairwise figures.
    by_score = warehouse.read("quality.pairs_by_score")
    counted = ["one_person_true", "one_person_false", "apart_true", "apart_false"]
    scored = warehouse.query("SELECT count(*) AS n FROM linkage.pairs WHERE match_probability >= ?",
                             [SCORE_BANDS[0]])["n"][0]
    assert by_score.select(pl.sum_horizontal(pl.col(counted).sum())).item() == scored > 0
    assert by_score["one_person_true"].sum() <= report["pairs_correct"]
    assert by_score["one_person_false"].sum() <= report["pairs_predicted"] - report["pairs_correct"]
    assert by_score["apart_true"].sum() <= report["pairs_true"] - report["pairs_correct"]
    assert report["scored_pairs_apart_true"] == by_score["apart_true"].sum()


def test_same_night_twice_publishes_the_same_persons_and_ids(night):
    published = night["published"]
    before = night["first_tables"]
    after = {t: pl.read_parquet(published / f"{t}.parquet") for t in ("persons", "person_records")}
    key = ["source", "source_record_id"]
    assert before["person_records"].select(*key, "person_id").sort(key).equals(
        after["person_records"].select(*key, "person_id").sort(key)
    )
    assert before["persons"].sort("person_id").equals(after["persons"].sort("person_id"))
    events = pl.read_parquet(published / "person_id_events.parquet")
    assert set(events["event"].unique()) == {"created"}  # the second night changed nothing


def documented_columns() -> dict[str, list[str]]:
    """Table → columns, as docs/data_dictionary.md lists them."""
    tables: dict[str, list[str]] = {}
    current = None
    for line in (Path(__file__).resolve().parents[2] / "docs" / "data_dictionary.md").read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            tables[current] = []
        elif current and line.startswith("| ") and not line.startswith(("| column", "|---")):
            tables[current].append(line.split("|")[1].strip())
    return tables


def test_data_dictionary_documents_every_published_column(night):
    documented = documented_columns()
    for path in sorted(night["published"].glob("*.parquet")):
        columns = pl.read_parquet_schema(path)
        assert list(columns) == documented[path.stem], path.stem
