"""Three generated nights (new persons, returning workers, graduating students, moves, deletions, a
NIK filled in that merges two persons, a correction that splits one), linked incrementally; each
night is compared with a full rebuild of the same data, and the ids and events are checked."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.sources.contracts import CONTRACTS
from assets.linkage.diagnostics import LINK_RATE_PERSONS, LINK_RATE_PROVINCES
from assets.linkage.assets import _REKEYED_FLAG, _SEARCHED, GONE_CLUSTERS, TWINS
from assets.linkage.model import CAPPED_KEY_COLUMNS
from assets.linkage.incremental import RECORD_HASH_KIND, ModelStore, blocking_pairs_sql, prediction_rules
from assets.linkage.recluster import CLUSTER_STATE
from assets.persons.delta import PERSONS_STATE, RECORD_STATE
from assets.publish.assets import PUBLISHED_TABLES
from assets.publish.store import DATABASE_FILE, MANIFEST_FILE
from assets.standardise.assets import REMADE_GEN
from assets.standardise.delta import STAGED_GEN, state_table
from assets.warehouse import FULL_REBUILD_TAG, run_resources, warehouse_in
from pipelines.definitions import ALL_ASSETS
from synthetic.nights import generate_night

PERSONS = 2000
NIGHTS = 3
KEY = ["source", "source_record_id"]
PERSON_TABLES = ("persons", "household_links", "parent_links", "person_records")
CLUSTER_TABLES = ("linkage.clusters", "linkage.components", "linkage.cluster_splits")


def published(data: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(data / "published" / f"{table}.parquet")


def link_rate_tables(warehouse) -> dict:
    """The link-rate reports and their parts per person, the parts in cluster order."""
    return {t: warehouse.read(t) for t in ("linkage.link_rates", "linkage.link_rates_by_province")} | {
        t: warehouse.query(f"SELECT * FROM {t} ORDER BY ALL") for t in (LINK_RATE_PERSONS, LINK_RATE_PROVINCES)}


def published_versions(data: Path) -> dict:
    """Every published table as its Parquet file and as its table in the DuckDB file of the same
    version, and the version's manifest."""
    folder = data / "published"
    with duckdb.connect(str(folder / DATABASE_FILE), read_only=True) as con:
        database = {t: con.sql(f'SELECT * FROM "{t}"').pl() for t in PUBLISHED_TABLES}
    return {"database": database, "parquet": {t: published(data, t) for t in PUBLISHED_TABLES},
            "manifest": json.loads((folder / MANIFEST_FILE).read_text())}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("nights")
    landing, data = root / "landing", root / "data"
    instance = dg.DagsterInstance.ephemeral()
    out = []
    for night in range(1, NIGHTS + 1):
        info = generate_night(landing, night, persons=PERSONS, nights=NIGHTS, change_share=0.02)
        result = dg.materialize(ALL_ASSETS, resources=run_resources(landing, data, "test-key"), instance=instance)
        warehouse = warehouse_in(data)
        state = warehouse.read("linkage.state").row(0, named=True)
        changes = warehouse.read("linkage.record_changes")
        pairs = warehouse.read("linkage.pairs")
        records = published(data, "person_records").select(*KEY, "person_id")
        events = published(data, "person_id_events")
        # The same night rebuilt in full from the state before it: a copy of yesterday's store.
        full_data = root / f"full-{night}"
        full = None
        if night > 1:
            shutil.copytree(root / f"before-{night}", full_data)
            full = dg.materialize(ALL_ASSETS, resources=run_resources(landing, full_data, "test-key"),
                                  instance=instance, tags={FULL_REBUILD_TAG: "true"})
            assert full.success
        shutil.copytree(data, root / f"before-{night + 1}")
        staged = {source: warehouse.read(f"staging.{source}") for source in CONTRACTS}
        raw = {source: warehouse.read(f"raw.{source}") for source in CONTRACTS}
        raw["person_records"] = warehouse.read("staging.person_records")
        persons_state = warehouse.read(PERSONS_STATE).row(0, named=True)
        person_tables = {t: published(data, t) for t in PERSON_TABLES}
        staging_state = {source: warehouse.read(state_table(source)).row(0, named=True) for source in CONTRACTS}
        cluster_tables = {t: warehouse.read(t) for t in CLUSTER_TABLES + (GONE_CLUSTERS,)}
        cluster_state = warehouse.read(CLUSTER_STATE).row(0, named=True)
        record_hashes, record_state = warehouse.read("linkage.record_hashes"), warehouse.read(RECORD_STATE)
        out.append({
            "night": night, "result": result, "state": state, "changes": changes, "pairs": pairs,
            "staged": staged, "raw": raw, "staging_state": staging_state, "persons_state": persons_state,
            "person_tables": person_tables, "cluster_tables": cluster_tables, "cluster_state": cluster_state,
            "records": records, "events": events, "scenarios": info["scenarios"], "data": data, "landing": landing,
            "blocking_report": warehouse.read("linkage.blocking_report"),
            "cluster_metrics": warehouse.read("linkage.cluster_metrics"),
            "link_rates": link_rate_tables(warehouse),
            "record_hashes": record_hashes, "record_state": record_state, "twins": warehouse.read(TWINS),
            "versions": published_versions(data),
            "full": None if night == 1 else {
                "record_hashes": warehouse_in(full_data).read("linkage.record_hashes"),
                "record_state": warehouse_in(full_data).read(RECORD_STATE),
                "twins": warehouse_in(full_data).read(TWINS),
                "result": full,
                "blocking_report": warehouse_in(full_data).read("linkage.blocking_report"),
                "cluster_metrics": warehouse_in(full_data).read("linkage.cluster_metrics"),
                "link_rates": link_rate_tables(warehouse_in(full_data)),
                "state": warehouse_in(full_data).read("linkage.state").row(0, named=True),
                "pairs": warehouse_in(full_data).read("linkage.pairs"),
                "records": published(full_data, "person_records").select(*KEY, "person_id"),
                "staged": {source: warehouse_in(full_data).read(f"staging.{source}")
                           for source in CONTRACTS},
                "raw": {source: warehouse_in(full_data).read(f"raw.{source}") for source in CONTRACTS}
                | {"person_records": warehouse_in(full_data).read("staging.person_records")},
                "person_tables": {t: published(full_data, t) for t in PERSON_TABLES},
                "cluster_tables": {t: warehouse_in(full_data).read(t) for t in CLUSTER_TABLES},
                "cluster_state": warehouse_in(full_data).read(CLUSTER_STATE).row(0, named=True),
                "events": published(full_data, "person_id_events"),
            },
        })
    return out


def record_key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns((pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"))


def test_first_night_is_full_and_later_nights_are_incremental(nights):
    assert all(n["result"].success for n in nights)
    assert [n["state"]["mode"] for n in nights] == ["full"] + ["incremental"] * (NIGHTS - 1)
    for n in nights[1:]:
        assert n["state"]["records_new"] > 0 and n["state"]["records_changed"] > 0
        assert n["state"]["records_deleted"] > 0
        # Only pairs with a new or changed record were scored.
        assert 0 < n["state"]["pairs_scored"] < n["pairs"].height / 5
        assert n["full"]["state"]["mode"] == "full"
        assert n["full"]["state"]["model_id"] == n["state"]["model_id"]  # no retraining


def test_every_night_keeps_the_partner_search_its_rules_make_for_the_next(nights):
    # The full first night makes it too, so that the first incremental night finds it made.
    model_json, _ = ModelStore(nights[0]["data"] / "models").load(nights[0]["state"]["model_id"])
    made = blocking_pairs_sql(prediction_rules(model_json), "duckdb", *_SEARCHED, _REKEYED_FLAG,
                              tuple(CAPPED_KEY_COLUMNS))
    assert made is not None and " JOIN " in made
    states = [n["state"] for n in nights] + [n["full"]["state"] for n in nights[1:]]
    assert {s["partner_search_sql"] for s in states} == {made}
    assert len({s["partner_search_key"] for s in states}) == 1


def test_later_nights_stage_only_new_and_changed_rows_and_equal_a_full_staging(nights):
    for n in nights:
        for source in CONTRACTS:
            state = n["staging_state"][source]
            if n["night"] == 1:
                assert state["rows_staged"] == state["rows"] > 0
                continue
            assert state["reason"] == "unchanged rows kept"
            # a few percent of the rows change per night (none of the cases, some nights); the
            # rest keep last night's values
            assert state["rows_staged"] < state["rows"] / 4, (source, state)
            assert state["rows_staged"] > 0 or source == "p2mi_kasus", (source, state)
            # row for row and column for column as staging everything again (updated where it
            # stands, the table is in another order): tonight's delivery date included
            order = ["_row_hash", "_row_hash_2"]
            staged, full = n["staged"][source], n["full"]["staged"][source]
            # the rows staged tonight carry tonight's staging generation, the kept ones an older one
            generations = staged[STAGED_GEN]
            if state["rows_staged"]:
                assert (generations == generations.max()).sum() == state["rows_staged"], source
            assert full[STAGED_GEN].n_unique() == 1  # a full staging: one generation
            staged, full = staged.drop(STAGED_GEN), full.drop(STAGED_GEN)
            assert staged.columns == full.columns and staged.height == full.height
            assert staged.sort(order).equals(full.sort(order)), f"night {n['night']}: {source} differs"


def test_later_nights_update_the_raw_tables_where_they_stand_to_what_reading_all_gives(nights):
    for n in nights[1:]:
        for source in CONTRACTS:
            raw_write = asset_metadata(n["result"], ["raw", source], "raw_table")
            assert raw_write == "updated where it stands", (source, raw_write)
            assert asset_metadata(n["full"]["result"], ["raw", source], "raw_table") == "written whole"
            order = ["_file", "_row_number"]
            raw, full = n["raw"][source], n["full"]["raw"][source]
            assert raw.columns == full.columns
            # every row of tonight's delivery, with tonight's file, row number and date
            assert raw.sort(order).equals(full.sort(order)), f"night {n['night']}: raw.{source} differs"
            assert raw["_delivery_date"].unique().to_list() == full["_delivery_date"].unique().to_list()


def test_later_nights_update_the_common_linkage_table_where_it_stands_to_a_full_build(nights):
    for n in nights[1:]:
        written = asset_metadata(n["result"], ["staging", "person_records"], "table_written")
        # every source delivered: every source's records brought up to date
        assert written.startswith(f"in place ({', '.join(CONTRACTS)}): ") and " 0 rows inserted" not in written
        # only the records staged again (and their DTSEN families, the cases) were made again
        compared = int(written.split("; ")[-1].removesuffix(" records compared"))
        assert 0 < compared < n["raw"]["person_records"].height / 4, written
        assert asset_metadata(n["full"]["result"], ["staging", "person_records"], "table_written") == "whole"
        records, full = n["raw"]["person_records"], n["full"]["raw"]["person_records"]
        assert records.columns == full.columns and records.height == full.height
        # the rows written tonight carry tonight's generation: the records compared that differ
        assert 0 < (records[REMADE_GEN] == records[REMADE_GEN].max()).sum() <= compared
        assert full[REMADE_GEN].n_unique() == 1
        # blocking keys recounted over tonight's records included
        records, full = records.drop(REMADE_GEN), full.drop(REMADE_GEN)
        assert records.sort("record_key").equals(full.sort("record_key")), f"night {n['night']}"


def test_later_nights_update_the_record_states_where_they_stand_to_a_full_computation(nights):
    """What the next night compares with: the linkage's record hashes and the persons' record
    state, changed where they stand on an incremental night, written whole on a full one."""
    for n in nights[1:]:
        hashes, full_hashes = n["record_hashes"], n["full"]["record_hashes"]
        assert hashes.height == n["raw"]["person_records"].height
        assert hashes.sort("record_key").equals(full_hashes.sort("record_key")), f"night {n['night']}"
        records, full_records = n["person_tables"]["person_records"], n["full"]["person_tables"]["person_records"]
        state = canonical(n["record_state"], records)
        assert state.height == hashes.height
        assert state.equals(canonical(n["full"]["record_state"], full_records)), f"night {n['night']}"


def canonical(table: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """`table` with each person id replaced by the person's first record key: a new person's id
    hashes the run id, so two runs give one person two ids."""
    first = record_key(records).group_by("person_id").agg(pl.col("record_key").min().alias("first_record"))
    for column in ("person_id", "related_person_id"):
        if column in table.columns:
            table = table.join(first.rename({"person_id": column, "first_record": f"{column}_first"}),
                               on=column).drop(column)
    return table.sort(table.columns)


def test_later_nights_choose_only_touched_persons_and_equal_a_full_computation(nights):
    # every source delivered: each one's records compared from what was written since last night
    assert asset_metadata(nights[0]["result"], ["persons", "persons"], "records_compared") == "every record"
    for n in nights[1:]:
        assert asset_metadata(n["result"], ["persons", "persons"], "records_compared") == (
            f"written since last night: {', '.join(CONTRACTS)}; all: none")
    for n in nights[1:]:
        state = n["persons_state"]
        persons = n["person_tables"]["persons"].height
        assert state["reason"] == "unchanged persons kept"
        # The published version is the last one with the touched persons' rows changed.
        assert asset_metadata(n["result"], ["published", "persons"], "published").startswith("the touched persons'")
        assert asset_metadata(n["full"]["result"], ["published", "persons"], "published") == (
            "written whole (the persons were computed whole)")
        assert 0 < state["persons_computed"] < persons / 10, state
        records = n["person_tables"]["person_records"]
        full_records = n["full"]["person_tables"]["person_records"]
        for table in PERSON_TABLES:
            inc, full = n["person_tables"][table], n["full"]["person_tables"][table]
            assert inc.schema == full.schema, table
            assert canonical(inc, records).equals(canonical(full, full_records)), f"night {n['night']}: {table}"


def test_later_nights_patch_the_parquet_files_and_each_file_is_its_database_table_row_for_row(nights):
    large = ["persons", "person_records", "person_id_events", "household_links"]
    for n in nights:
        versions = n["versions"]
        # Night 1 writes every table whole; a later night patches the last version's large files.
        assert versions["manifest"]["parquet_patched"] == ([] if n["night"] == 1 else large), n["night"]
        for table in PUBLISHED_TABLES:
            parquet, database = versions["parquet"][table], versions["database"][table]
            assert parquet.schema == database.schema, (n["night"], table)
            assert parquet.equals(database), f"night {n['night']}: {table}"
    # The events are the whole history, each night's once.
    events = nights[-1]["versions"]["parquet"]["person_id_events"]
    assert events["run_id"].n_unique() == len(nights)
    assert events.height == sum(n["events"].filter(pl.col("run_id") == n["result"].run_id).height for n in nights)


def asset_metadata(result, key: list[str], name: str):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return event.materialization.metadata[name].value


def diagnostics_metadata(result, name: str):
    return asset_metadata(result, ["linkage", "diagnostics"], name)


def quality_metadata(result, name: str):
    return asset_metadata(result, ["quality", "report"], name)


def test_an_incremental_night_carries_the_blocking_report_over_and_a_full_one_counts_it(nights):
    night2 = nights[1]
    assert 0 < night2["state"]["records_new"] + night2["state"]["records_changed"] \
        + night2["state"]["records_deleted"] < 0.05 * night2["records"].height
    assert diagnostics_metadata(night2["result"], "blocking_report_counted").startswith("carried over from run")
    assert night2["blocking_report"].equals(nights[0]["blocking_report"])
    # The comparison viewer and the quality report's blocking recall go with it: night 1's, as made.
    assert diagnostics_metadata(night2["result"], "comparison_viewer") == diagnostics_metadata(
        nights[0]["result"], "comparison_viewer")
    assert night2["result"].run_id not in diagnostics_metadata(night2["result"], "comparison_viewer")
    assert quality_metadata(night2["result"], "blocking_recall_counted").startswith("carried over from run")
    assert quality_metadata(night2["result"], "blocking_recall") == quality_metadata(nights[0]["result"], "blocking_recall")
    # The model's charts are drawn once per model, the first night it scores.
    assert diagnostics_metadata(night2["result"], "m_u_chart") == diagnostics_metadata(nights[0]["result"], "m_u_chart")
    # The full rebuild of the same night counts again, on tonight's records.
    assert diagnostics_metadata(night2["full"]["result"], "blocking_report_counted") == "tonight (a full linkage night)"
    assert not night2["full"]["blocking_report"].equals(nights[0]["blocking_report"])
    full_viewer = diagnostics_metadata(night2["full"]["result"], "comparison_viewer")
    assert night2["full"]["result"].run_id in full_viewer and Path(full_viewer).is_file()
    assert quality_metadata(night2["full"]["result"], "blocking_recall_counted") == "tonight (a full linkage night)"


def test_a_data_folder_moved_whole_keeps_its_reports(nights):
    # The comparison viewer's path is kept relative to the reports folder: after a move, the next
    # night (nothing new delivered) carries the blocking report and the viewer over.
    last = nights[-1]
    moved = last["data"].parent / "moved-data"
    shutil.copytree(last["data"], moved, symlinks=True)
    result = dg.materialize(ALL_ASSETS, resources=run_resources(last["landing"], moved, "test-key"),
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert diagnostics_metadata(result, "blocking_report_counted").startswith("carried over from run")
    viewer = Path(diagnostics_metadata(result, "comparison_viewer"))
    assert viewer.is_file() and viewer.is_relative_to(moved / "reports")
    assert warehouse_in(moved).read("linkage.blocking_report").equals(last["blocking_report"])


def test_later_nights_cluster_only_touched_components_and_equal_a_full_clustering(nights):
    assert nights[0]["cluster_state"]["mode"] == "full"
    for n in nights[1:]:
        state = n["cluster_state"]
        assert (state["mode"], state["reason"]) == ("incremental", "unchanged components kept"), state
        assert 0 < state["records_clustered"] < state["records"] / 10, state
        assert n["full"]["cluster_state"]["mode"] == "full"
        assert n["full"]["cluster_state"]["records_clustered"] == state["records"]
        for table in CLUSTER_TABLES:
            inc, full = n["cluster_tables"][table], n["full"]["cluster_tables"][table]
            # cluster and component ids are the smallest record key of each: equal frames, row for row
            assert inc.sort(inc.columns).equals(full.sort(full.columns)), f"night {n['night']}: {table}"
        # Clusters per size counted from last night's counts and the clusters replaced and made,
        # as a count over every cluster gives.
        for name in ("cluster_sizes", "clusters", "largest_cluster", "dagster/row_count"):
            assert asset_metadata(n["result"], ["linkage", "clusters"], name) == (
                asset_metadata(n["full"]["result"], ["linkage", "clusters"], name)), name


def test_later_nights_look_for_twins_among_touched_pairs_and_find_what_a_full_search_finds(nights):
    assert asset_metadata(nights[0]["result"], ["linkage", "clusters"], "twin_cannot_links_found") == (
        "among all the scored pairs")
    for n in nights[1:]:
        searched = asset_metadata(n["result"], ["linkage", "clusters"], "twin_cannot_links_found")
        assert searched.startswith("among the ") and "pairs of new and changed records" in searched, searched
        assert asset_metadata(n["full"]["result"], ["linkage", "clusters"], "twin_cannot_links_found") == (
            "among all the scored pairs")
        # (2,000 generated persons hold no twins by the rule: tests/linkage/test_twins.py has them.)
        assert n["twins"].equals(n["full"]["twins"]), f"night {n['night']}"


def test_later_nights_count_cluster_metrics_for_the_persons_clustered_again_as_a_full_count_does(nights):
    assert diagnostics_metadata(nights[0]["result"], "cluster_metrics_counted") == "tonight, all persons"
    for n in nights[1:]:
        counted = diagnostics_metadata(n["result"], "cluster_metrics_counted")
        assert counted.startswith("tonight for the ") and counted.endswith("kept for the others"), counted
        assert diagnostics_metadata(n["full"]["result"], "cluster_metrics_counted") == "tonight, all persons"
        inc, full = n["cluster_metrics"], n["full"]["cluster_metrics"]
        assert full.height > 0
        # Row for row, in the published order (density, then cluster id).
        assert inc.equals(full), f"night {n['night']}"


def test_later_nights_name_the_persons_gone_that_the_diagnostics_delete(nights):
    # Last night's cluster ids that no record holds tonight, and no other (after merges and deletions).
    for before, n in zip(nights, nights[1:]):
        last_night = set(before["cluster_tables"]["linkage.clusters"]["cluster_id"])
        tonight = set(n["cluster_tables"]["linkage.clusters"]["cluster_id"])
        gone = n["cluster_tables"][GONE_CLUSTERS]["cluster_id"].to_list()
        assert len(gone) == len(set(gone)) > 0
        assert set(gone) == last_night - tonight, f"night {n['night']}"
    assert nights[0]["cluster_tables"][GONE_CLUSTERS].is_empty()  # a full clustering counts every person


def test_later_nights_count_link_rates_for_the_persons_clustered_again_as_a_full_count_does(nights):
    assert diagnostics_metadata(nights[0]["result"], "link_rates_counted") == "tonight, all persons"
    for n in nights[1:]:
        assert diagnostics_metadata(n["result"], "link_rates_counted") == (
            "tonight for the persons clustered again; kept for the others")
        assert diagnostics_metadata(n["full"]["result"], "link_rates_counted") == "tonight, all persons"
        assert n["link_rates"]["linkage.link_rates"]["persons_in_both"].sum() > 0
        for table, full in n["full"]["link_rates"].items():
            assert n["link_rates"][table].equals(full), f"night {n['night']}: {table}"


def test_incremental_night_equals_full_rebuild(nights):
    for n in nights[1:]:
        keys = ["record_key_l", "record_key_r"]
        inc = n["pairs"].sort(keys)
        full = n["full"]["pairs"].sort(keys)
        assert inc.select(keys).equals(full.select(keys)), f"night {n['night']}: pairs differ"
        assert (inc["match_weight"] - full["match_weight"]).abs().max() < 1e-9
        # Same persons; the same ids wherever an id is carried over (a new id hashes the run id).
        assert partition(n["records"]) == partition(n["full"]["records"]), f"night {n['night']}: persons differ"
        old_ids = set(nights[n["night"] - 2]["records"]["person_id"].to_list())
        inc_kept = n["records"].filter(pl.col("person_id").is_in(list(old_ids))).sort(KEY)
        full_kept = n["full"]["records"].filter(pl.col("person_id").is_in(list(old_ids))).sort(KEY)
        assert inc_kept.equals(full_kept)


def test_later_nights_assign_ids_to_redone_records_only_with_the_events_of_a_full_assignment(nights):
    for n in nights[1:]:
        mode = asset_metadata(n["result"], ["persons", "person_ids"], "person_ids_mode")
        assert mode == "redone records only: the clustering kept the other records"
        assigned = asset_metadata(n["result"], ["persons", "person_ids"], "records_assigned_tonight")
        assert 0 < assigned < n["records"].height / 10
        assert asset_metadata(n["full"]["result"], ["persons", "person_ids"], "person_ids_mode").startswith("full")
        assert asset_metadata(n["full"]["result"], ["persons", "person_ids"], "records_assigned_tonight") == (
            n["records"].height)
        # Persons counted from last night's count and the redone records' ids, as a full count gives.
        assert asset_metadata(n["result"], ["persons", "person_ids"], "persons") == n["records"]["person_id"].n_unique()
        assert asset_metadata(n["full"]["result"], ["persons", "person_ids"], "persons") == (
            n["full"]["records"]["person_id"].n_unique())
        kept = n["records"].join(nights[n["night"] - 2]["records"], on=["source", "source_record_id", "person_id"])
        assert asset_metadata(n["result"], ["persons", "person_ids"], "records_keeping_their_id") == kept.height
        # The same events, record for record and pair for pair; a new id hashes the run id, so the
        # ids issued tonight are compared through the records they were issued to.
        old_ids = set(nights[n["night"] - 2]["records"]["person_id"].to_list())

        def comparable(events: pl.DataFrame, run_id: str) -> list[tuple]:
            tonight = events.filter(pl.col("run_id") == run_id)
            assert tonight.height > 0
            return sorted(
                (e["event"], e["records"], e["record_keys"], e["evidence"],
                 e["person_id"] if e["person_id"] in old_ids else "new",
                 e["related_person_id"] if e["related_person_id"] in old_ids or e["related_person_id"] is None else "new")
                for e in tonight.iter_rows(named=True))

        assert comparable(n["events"], n["result"].run_id) == comparable(n["full"]["events"], n["full"]["result"].run_id)


def partition(records: pl.DataFrame) -> set[frozenset]:
    groups = record_key(records).group_by("person_id").agg(pl.col("record_key"))
    return {frozenset(keys) for keys in groups["record_key"].to_list()}


def test_untouched_records_keep_their_id_and_every_change_is_an_event(nights):
    for before, after in zip(nights, nights[1:]):
        changes = after["changes"]
        touched = set(changes["record_key"].to_list())
        prev = record_key(before["records"]).select("record_key", pl.col("person_id").alias("old_id"))
        now = record_key(after["records"]).select("record_key", "person_id")
        both = prev.join(now, on="record_key")
        # Untouched: the record and every record of its previous and its new person are unchanged.
        persons_touched = set(
            prev.filter(pl.col("record_key").is_in(list(touched)))["old_id"].to_list()
        ) | set(now.filter(pl.col("record_key").is_in(list(touched)))["person_id"].to_list())
        untouched = both.filter(~pl.col("old_id").is_in(list(persons_touched))
                                & ~pl.col("person_id").is_in(list(persons_touched)))
        assert untouched.height > 0.9 * both.height
        assert (untouched["old_id"] == untouched["person_id"]).mean() == 1.0

        events = after["events"].filter(pl.col("run_id") == after["result"].run_id)
        explained = set()
        for e in events.iter_rows(named=True):
            if e["event"] == "merged":
                explained.add((e["person_id"], e["related_person_id"]))
            elif e["event"] in ("split", "moved"):
                explained.add((e["related_person_id"], e["person_id"]))
            assert e["event"] in {"created", "retired"} or e["evidence"].startswith(("pair", "stated link"))
        for old_id, new_id in both.filter(pl.col("old_id") != pl.col("person_id")).select("old_id", "person_id").unique().iter_rows():
            assert (old_id, new_id) in explained
        gone = set(prev["old_id"].to_list()) - set(now["person_id"].to_list())
        ended = set(events.filter(pl.col("event").is_in(["merged", "retired"]))["person_id"].to_list())
        assert gone == ended
        fresh = set(now["person_id"].to_list()) - set(prev["old_id"].to_list())
        began = set(events.filter(pl.col("event").is_in(["created", "split"]))["person_id"].to_list())
        assert fresh == began
        # Ids are never issued twice over the whole history.
        history = after["events"].filter(pl.col("event").is_in(["created", "split"]))
        assert history["person_id"].is_unique().all()


def scenario(nights, name: str) -> pl.DataFrame:
    frame = nights[0]["scenarios"].filter(pl.col("scenario") == name)
    assert frame.height > 0, name
    return frame


def id_of(night: dict, key: str) -> str | None:
    hit = record_key(night["records"]).filter(pl.col("record_key") == key)["person_id"]
    return hit[0] if hit.len() else None


def test_graduating_students_are_not_relinked_and_keep_their_id(nights):
    for row in scenario(nights, "graduate").iter_rows(named=True):
        n = row["night"]
        assert id_of(nights[n - 1], row["record_key"]) == id_of(nights[n - 2], row["record_key"])
        assert row["record_key"] not in nights[n - 1]["changes"]["record_key"].to_list()


def test_new_persons_and_returning_workers_appear_with_their_night(nights):
    for name in ("new_person", "returning_worker"):
        for row in scenario(nights, name).iter_rows(named=True):
            n = row["night"]
            assert id_of(nights[n - 2], row["record_key"]) is None
            assert id_of(nights[n - 1], row["record_key"]) is not None
            assert row["record_key"] in nights[n - 1]["changes"].filter(pl.col("change") == "new")["record_key"].to_list()


def test_deleted_records_leave_their_persons(nights):
    for row in scenario(nights, "deleted").iter_rows(named=True):
        n = row["night"]
        old_id = id_of(nights[n - 2], row["record_key"])
        assert old_id is not None and id_of(nights[n - 1], row["record_key"]) is None
        events = nights[n - 1]["events"].filter(pl.col("run_id") == nights[n - 1]["result"].run_id)
        if old_id not in nights[n - 1]["records"]["person_id"].to_list():
            assert events.filter((pl.col("event") == "retired") & (pl.col("person_id") == old_id)).height == 1


def test_a_nik_filled_in_merges_two_persons_and_the_older_id_survives(nights):
    merges = 0
    for row in scenario(nights, "nik_filled_in").iter_rows(named=True):
        n = row["night"]
        before, after = id_of(nights[n - 2], row["record_key"]), id_of(nights[n - 1], row["record_key"])
        mates = record_key(nights[n - 1]["records"]).filter(pl.col("person_id") == after)["record_key"]
        previous = record_key(nights[n - 2]["records"]).filter(pl.col("record_key").is_in(mates.implode()))
        joined = set(previous["person_id"].to_list())
        if len(joined) < 2:
            continue  # the NIK did not bring two published persons together
        merges += 1
        events = nights[n - 1]["events"]
        tonight = events.filter(pl.col("run_id") == nights[n - 1]["result"].run_id)
        merged = tonight.filter((pl.col("event") == "merged") & pl.col("person_id").is_in(list(joined)))
        assert merged.height == len(joined) - 1
        assert set(merged["related_person_id"].to_list()) == {after} and after in joined and before in joined
        age = dict(events.filter(pl.col("event").is_in(["created", "split"])).select("person_id", "recorded_at").iter_rows())
        assert min((age[i], i) for i in joined)[1] == after  # the oldest id survives
        assert all(e.startswith("pair") for e in merged["evidence"].to_list())
    assert merges >= 1


def test_a_corrected_identity_splits_the_record_off_with_a_split_event(nights):
    splits = 0
    for row in scenario(nights, "identity_corrected").iter_rows(named=True):
        n = row["night"]
        before, after = id_of(nights[n - 2], row["record_key"]), id_of(nights[n - 1], row["record_key"])
        owner_before = id_of(nights[n - 2], row["other_key"])
        if before != owner_before:
            continue  # the borrowed identity did not link it that night
        splits += 1
        assert after != before and id_of(nights[n - 1], row["other_key"]) == before
        events = nights[n - 1]["events"].filter(pl.col("run_id") == nights[n - 1]["result"].run_id)
        split = events.filter((pl.col("event") == "split") & (pl.col("person_id") == after))
        assert split.select("related_person_id", "record_keys").rows() == [(before, row["record_key"])]
        assert "was weight" in split["evidence"][0]
    assert splits >= 1


def test_record_hashes_of_another_kind_make_a_full_linkage_night(nights, tmp_path):
    # A store never linked has no hashes of any kind: its first night is plainly full.
    assert asset_metadata(nights[0]["result"], ["linkage", "pairs"], "linkage_mode") == "full"
    # A store from before the hashes were taken in DuckDB: its state names no hash kind.
    data = tmp_path / "data"
    shutil.copytree(nights[-1]["data"], data)
    warehouse = warehouse_in(data)
    warehouse.write({"linkage.state": warehouse.read("linkage.state").drop("record_hash_kind")})
    result = dg.materialize(ALL_ASSETS, resources=run_resources(nights[-1]["landing"], data, "test-key"),
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert asset_metadata(result, ["linkage", "pairs"], "linkage_mode") == (
        "full (the stored record hashes are of another kind)")
    state = warehouse.read("linkage.state").row(0, named=True)
    records = published(data, "person_records").select(*KEY, "person_id")
    # every record scored, as new; the next night compares tonight's kind
    assert (state["mode"], state["records_new"], state["records_changed"]) == ("full", records.height, 0)
    assert state["pairs_scored"] == warehouse.read("linkage.pairs").height
    assert state["record_hash_kind"] == RECORD_HASH_KIND
    # the same persons as the night it repeats
    assert partition(records) == partition(nights[-1]["records"])


def test_a_night_only_p2mi_delivers_reads_only_its_records_again_and_equals_a_full_build(nights, tmp_path):
    """P2MI's two registers delivered again a day later (the same rows), DTSEN and Sekolah Rakyat
    not: the common table brings only the P2MI records up to date (the cases read the placements)
    and still equals a full build; a run with no new delivery at all keeps it as it is."""
    last = nights[-1]
    landing = tmp_path / "landing"
    shutil.copytree(last["landing"], landing)
    newest = {source: max((landing / source).iterdir()) for source in CONTRACTS}
    for source in ("p2mi_penempatan", "p2mi_kasus"):
        day = date.fromisoformat(newest[source].name) + timedelta(days=1)
        shutil.copytree(newest[source], newest[source].parent / day.isoformat())
    stores = {}
    for name, tags in (("incremental", None), ("full", {FULL_REBUILD_TAG: "true"})):
        stores[name] = tmp_path / name
        shutil.copytree(last["data"], stores[name])
        result = dg.materialize(ALL_ASSETS, resources=run_resources(landing, stores[name], "test-key"),
                                instance=dg.DagsterInstance.ephemeral(), tags=tags)
        assert result.success
        written = asset_metadata(result, ["staging", "person_records"], "table_written")
        if name == "incremental":
            assert written.startswith("in place (p2mi_penempatan, p2mi_kasus): 0 rows inserted, 0 deleted"), written
    records = {name: warehouse_in(data).read("staging.person_records").sort("record_key").drop(REMADE_GEN)
               for name, data in stores.items()}
    assert records["incremental"].equals(records["full"].select(records["incremental"].columns))
    moved = records["incremental"].filter(pl.col("source").str.starts_with("p2mi"))["delivery_date"].unique()
    assert moved.to_list() == [date.fromisoformat(newest["p2mi_penempatan"].name) + timedelta(days=1)]
    assert partition(published(stores["incremental"], "person_records")) == partition(last["records"])
    # The persons: DTSEN's and Sekolah Rakyat's records not hashed again, and no person chosen
    # again (the same records with the same values), as a full computation gives them.
    state = warehouse_in(stores["incremental"]).read(PERSONS_STATE).row(0, named=True)
    assert (state["reason"], state["persons_computed"]) == ("unchanged persons kept", 0)
    inc_records = published(stores["incremental"], "person_records")
    full_records = published(stores["full"], "person_records")
    assert canonical(warehouse_in(stores["incremental"]).read(RECORD_STATE), inc_records).equals(
        canonical(warehouse_in(stores["full"]).read(RECORD_STATE), full_records))
    for table in PERSON_TABLES:
        assert canonical(published(stores["incremental"], table), inc_records).equals(
            canonical(published(stores["full"], table), full_records)), table
    # Nothing delivered since: no source's records are read again.
    result = dg.materialize(ALL_ASSETS, resources=run_resources(landing, stores["incremental"], "test-key"),
                            instance=dg.DagsterInstance.ephemeral())
    assert asset_metadata(result, ["staging", "person_records"], "table_written") == (
        "kept: no source's staged rows changed")
    assert warehouse_in(stores["incremental"]).read("staging.person_records").sort("record_key").drop(
        REMADE_GEN).equals(records["incremental"])
