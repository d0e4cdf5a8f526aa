"""Linkage layer: the Splink model, the scored pairs and the clusters. Their code version is the
hash of `linkage_rules/`, so a rule change shows as a changed code version in the UI. A night links
incrementally (only new and changed records are scored) unless the rules or the model changed or
the run asks for a full rebuild (`padu/full_rebuild` tag, run config, the weekly schedule)."""

import json
import time
from functools import partial
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl

from assets.linkage.backend import release_splink
from assets.linkage.diagnostics import (
    BLOCKING_STATE, LINK_RATE_PERSONS, LINK_RATE_PROVINCES, blocking_report, cluster_metrics, comparison_viewer,
    link_rate_parts_sql, link_rates_sql, model_charts_of, plan_recount,
)
from assets.linkage.incremental import (
    CHANGES, PAIR_KEYS, RECORD_HASH_KIND, REKEYED, ModelStore, classify_records, dropped_pairs_of,
    dropped_strong_pairs, prediction_rules, record_hashes_sql, rekeyed_pairs, replace_pairs_of,
    score_all, score_fresh, score_pairs, stored_blocking_pairs_sql, stored_pairs_of, term_frequency_columns,
    term_frequency_tables, touched_pairs,
)
from assets.linkage.model import (
    CAPPED_KEY_BLOCKS, CAPPED_KEY_COLUMNS, FAMILY_COLUMNS, LINKAGE_COLUMNS, THIN_RECORDS, cluster_edges,
    collapsed_levels, held_back, train, untrained_levels,
)
from assets.linkage.recluster import (
    CLUSTER_STATE, COMPONENTS, CONSTRAINTS, REDONE, cluster_people, clustering_fingerprint, constraint_table,
    conflict_exempt_records, crossing_edges, plan_clustering,
)
from assets.linkage.review import constraints_from_answers, read_answers, review_queue
from assets.linkage.rules import LinkageRules, load_rules, rules_code_version
from assets.linkage.sole_candidates import lone_person_links, sole_candidate_links
from assets.linkage.twins import COLUMNS as TWIN_COLUMNS, twin_cannot_links
from assets.metadata import markdown_table
from assets.publish.pseudonym import resolve_key
from assets.standardise.assets import REMADE_GEN, records_generations
from assets.warehouse import (
    PaduSettings, Warehouse, full_rebuild_requested, replace_rows, replace_table, run_tag_set, table_exists,
)

LINKAGE_GROUP = "linkage"
# Tables of the clustering that an incremental night updates where they stand.
KEPT_WHERE_THEY_STAND = ("linkage.clusters", COMPONENTS, "linkage.cluster_splits")
# Last night's cluster ids no record holds tonight (written by an incremental clustering; empty
# after a full one, whose diagnostics count every person again).
GONE_CLUSTERS = "linkage.clusters_gone"
# Tonight's clusters of the records clustered again (written with GONE_CLUSTERS; empty after a full
# clustering): the persons an incremental night's diagnostics count again.
REMADE_CLUSTERS_TABLE = "linkage.clusters_remade"
# Clusters per size (size, clusters), written with the clusters: an incremental night updates
# last night's counts with the clusters it replaced and made.
CLUSTER_SIZES = "linkage.cluster_sizes"
# What a record's hashes (linkage.record_hashes) cover: a changed record is one whose record_hash
# changed; one whose key_hash alone changed is rekeyed (incremental.classify_records).
HASHED_COLUMNS = LINKAGE_COLUMNS + FAMILY_COLUMNS
# The pairs of tonight's rekeyed records that are scored pairs for the first time (`added`) or no
# longer candidates (`lost`): record_key_l, record_key_r, change. The clustering takes their records
# as changed (recluster.plan_clustering) and the twins rule looks at them again.
REKEYED_PAIRS = "linkage.rekeyed_pairs"


def _no_rekeyed_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String, "change": pl.String})


def _rekeyed_pair_changes(scored: pl.DataFrame, candidates: pl.DataFrame, lost: pl.DataFrame) -> pl.DataFrame:
    """REKEYED_PAIRS: the rekeyed records' `candidates` (pairs not stored last night) that scored
    from the threshold up tonight, and the `lost` pairs."""
    added = scored.join(candidates, on=PAIR_KEYS, how="semi") if scored.height else candidates.clear()
    return pl.concat([added.select(*PAIR_KEYS, pl.lit("added").alias("change")),
                      lost.select(*PAIR_KEYS, pl.lit("lost").alias("change"))])


def _stored_pairs_frame() -> pl.DataFrame:
    return pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String,
                                "match_weight": pl.Float64, "match_probability": pl.Float64})


def _records_of(warehouse: Warehouse, known: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """The LINKAGE_COLUMNS of the records of `keys` (record_key): from `known` where they are,
    from the store otherwise."""
    have = known.join(keys, on="record_key", how="semi")
    missing = keys.join(have.select("record_key"), on="record_key", how="anti")
    if missing.is_empty():
        return have
    return pl.concat([have, warehouse.read_rows_of("staging.person_records", missing, LINKAGE_COLUMNS)
                      .select(have.columns)])


RETRAIN_TAG = "padu/retrain"


class LinkageConfig(dg.Config):
    """Run config of `linkage/model` (or the run tags `padu/full_rebuild` and `padu/retrain` set to
    `true`): retraining also rebuilds in full."""

    full_rebuild: bool = False
    retrain: bool = False


def _components_holding(warehouse: Warehouse, seeds: pl.Series) -> pl.Series:
    """The records of last night's components (COMPONENTS) that hold any of `seeds`."""
    theirs = warehouse.read_rows_of(COMPONENTS, seeds.to_frame("record_key"), ["component_id"]).unique()
    return warehouse.read_rows_of(COMPONENTS, theirs, ["record_key"])["record_key"]


def _sizes_updated(sizes: pl.DataFrame, gone: pl.Series, made: pl.Series) -> pl.DataFrame:
    """Clusters per size (size, clusters), less the clusters of sizes `gone`, plus those of sizes
    `made`; sizes no cluster has are left out."""
    def counted(values: pl.Series, sign: int) -> pl.DataFrame:
        return values.cast(pl.Int64).value_counts(name="clusters").select(
            pl.col(values.name).alias("size"), pl.col("clusters").cast(pl.Int64) * sign)
    return (pl.concat([sizes.select(pl.col("size").cast(pl.Int64), pl.col("clusters").cast(pl.Int64)),
                       counted(gone, -1), counted(made, 1)])
            .group_by("size").agg(pl.col("clusters").sum())
            .filter(pl.col("clusters") != 0).sort("size"))


# The partner search of the incremental nights, kept in `linkage.state`: its key and its SQL.
PARTNER_SEARCH = ("partner_search_key", "partner_search_sql")
# What `_fresh_and_partners` searches (the names its stored SQL holds): the stored records by row
# id, the touched ones, registered as `__fresh`, by their number `__touched`.
_SEARCHED = ("staging.person_records", "__fresh", "rowid", "__touched")
_STORED, _FRESH, _STORED_KEY, _NUMBER = _SEARCHED
# The column of `__fresh` that marks a record whose capped keys alone moved (incremental.REKEYED):
# the search takes it through the branches that read a key only.
_REKEYED_FLAG = "__rekeyed"


def _partner_search(model_json: dict, stored: dict) -> dict:
    """The PARTNER_SEARCH of tonight's model: the one in `stored` (last night's `linkage.state`
    row) when it was made from the same rules and code, else made now. Made on a full night too,
    which needs none, so that the first incremental night after it has it
    (incremental.stored_blocking_pairs_sql)."""
    made = stored_blocking_pairs_sql(prediction_rules(model_json), model_json.get("sql_dialect", "duckdb"),
                                     *_SEARCHED, stored, _REKEYED_FLAG, tuple(CAPPED_KEY_COLUMNS))
    return dict(zip(PARTNER_SEARCH, made))


def _fresh_and_partners(warehouse: Warehouse, touched: pl.Series, search_sql: str | None,
                        since: str | None = None, rekeyed: pl.Series | None = None,
                        ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """The touched records, their blocking partners among the others, and the pairs the blocking
    rules let through among them (incremental.blocking_pairs_sql; each pair once, a pair of two
    touched records with the smaller key left), found in DuckDB: only they leave it. The pairs are
    found by row id among all the stored records, the touched ones left out after: at 1M, a
    P2MI-only night's 3,067 touched records reach 20,289 others in 0.9 s against 1.25 s when every
    rule's join left the touched records out of 1.3M first and carried their keys. Pairs None when
    a rule has no equality to join on: every record is a partner. `since`: a condition every
    touched record meets (written since the stored hashes were made), which the read of the
    touched records passes to DuckDB: the rows written tonight are appended (staging/person_records
    deletes and inserts, it does not update), so the row groups before them are skipped by their
    generation's range (at 1M, 0.006 s against 0.09 s for 3,067 touched records). `search_sql`:
    `_partner_search`'s SQL. `rekeyed`: records whose capped keys alone moved (written since too),
    searched with the touched ones but through the branches that read a key only; they are among
    the fresh records returned, and their pairs among the pairs."""
    columns = ", ".join(f'"{c}"' for c in LINKAGE_COLUMNS)
    rekeyed = rekeyed if rekeyed is not None else pl.Series([], dtype=pl.String)
    searched = pl.concat([touched.cast(pl.String), rekeyed.cast(pl.String)])
    is_touched = pl.col("record_key").is_in(searched.implode())
    with warehouse.connect() as con:
        con.register("__touched_keys", pl.DataFrame({"record_key": searched}, schema={"record_key": pl.String}).to_arrow())
        fresh = con.sql(f"SELECT {columns} FROM staging.person_records SEMI JOIN __touched_keys USING (record_key)"
                        + (f" WHERE {since}" if since else "")).pl()
        con.unregister("__touched_keys")
        numbered = fresh.with_row_index(_NUMBER).with_columns(
            pl.col("record_key").is_in(rekeyed.implode()).alias(_REKEYED_FLAG))
        con.register(_FRESH, numbered.to_arrow())
        if search_sql is None:
            con.unregister(_FRESH)
            return fresh, con.sql(f"SELECT {columns} FROM staging.person_records").pl().filter(~is_touched), None
        found = con.sql(search_sql).pl()
        con.register("__found", found.to_arrow())
        # The search gives the stored records' keys: read them back by the same key.
        reached = con.sql(f"SELECT {_STORED_KEY} AS existing_key, {columns} FROM {_STORED} "
                          f"WHERE {_STORED_KEY} IN (SELECT existing_key FROM __found)").pl()
        con.unregister("__found")
        con.unregister(_FRESH)
    pairs = touched_pairs(
        found.join(reached.select("existing_key", pl.col("record_key").alias("existing_record")), on="existing_key")
        .join(numbered.select(pl.col(_NUMBER).alias("touched_key"), pl.col("record_key").alias("touched_record")),
              on="touched_key"))
    return fresh, reached.filter(~is_touched).drop("existing_key"), pairs


def _night_model(padu: PaduSettings, warehouse: Warehouse) -> tuple[dict, dict, dict[str, pl.DataFrame]]:
    """The `linkage.model` row of tonight (model id, mode) and that model's JSON and frozen
    term-frequency tables from the model store."""
    run = warehouse.read("linkage.model").row(0, named=True)
    model_json, tf_tables = ModelStore(padu.models_path).load(run["model_id"])
    return run, model_json, tf_tables


@dg.asset(
    key=["linkage", "model"],
    deps=[dg.AssetKey(["staging", "person_records"])],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="The Splink model this run scores with, and whether it links in full or "
    "incrementally. A model is trained (fixed seed) only when none exists for tonight's rules "
    "(`linkage_rules/model.yaml`) or when the run asks for it; each trained model is kept, with "
    "its term-frequency tables, under `$PADU_DATA_DIR/models/model-<rules hash>-<time>.json`.",
    kinds={"splink", "duckdb"},
    check_specs=[dg.AssetCheckSpec(
        "no_level_collapsed", asset=["linkage", "model"],
        description="Training left every level the rules do not fix with m above 1e-6: EM can set a "
        "level's m to zero, which turns it into a cannot-link (docs/linkage.md, \"EM at scale\").",
    )],
)
def linkage_model(context: dg.AssetExecutionContext, config: LinkageConfig, padu: PaduSettings,
                  warehouse: Warehouse):
    rules = load_rules()
    store = ModelStore(padu.models_path)
    model_id = store.latest(rules.version_hash)
    notes: list[str] = []
    if config.retrain or run_tag_set(context, RETRAIN_TAG):
        retrain_reason = "retraining requested"
    elif model_id is None:
        retrain_reason = f"no trained model for rules {rules.version_hash}"
    else:
        retrain_reason = ""
    if retrain_reason:
        records = warehouse.read("staging.person_records", LINKAGE_COLUMNS)
        warehouse.release_memory()
        model_json, notes = train(records, rules, padu.backend)
        release_splink()
        for note in notes:
            context.log.warning(note)
        tf_tables = term_frequency_tables(records, term_frequency_columns(model_json))
        model_id = store.save(rules.version_hash, model_json, tf_tables)
    else:
        model_json, _ = store.load(model_id)

    state = warehouse.read("linkage.state") if warehouse.exists("linkage.state") else None
    if config.full_rebuild or full_rebuild_requested(context):
        mode, mode_reason = "full", "full rebuild requested"
    elif state is None or not warehouse.exists("linkage.record_hashes"):
        mode, mode_reason = "full", "no previous linkage"
    elif state["model_id"][0] != model_id:
        mode, mode_reason = "full", f"model changed ({state['model_id'][0]} before)"
    else:
        mode, mode_reason = "incremental", "same rules and model as the last linkage"
    warehouse.write({
        "linkage.model": pl.DataFrame({
            "run_id": [context.run.run_id], "rules_version": [rules.version_hash], "model_id": [model_id],
            "model_path": [str(store.path(model_id))], "model_json": [json.dumps(model_json)],
            "retrained": [bool(retrain_reason)], "retrain_reason": [retrain_reason or None],
            "mode": [mode], "mode_reason": [mode_reason],
        })
    })
    weights = pl.DataFrame([
        {"comparison": c["output_column_name"], "level": lvl.get("label_for_charts"),
         "m": lvl.get("m_probability"), "u": lvl.get("u_probability")}
        for c in model_json["comparisons"] for lvl in c["comparison_levels"]
        if not lvl.get("is_null_level")
    ])
    collapsed = collapsed_levels(model_json)
    for level in collapsed:
        context.log.warning(f"training set m of {level} to about zero: pairs in that level cannot link")
    yield dg.MaterializeResult(
        metadata={
            "model_id": model_id,
            "model_path": dg.MetadataValue.path(str(store.path(model_id))),
            "rules_version": rules.version_hash,
            "retrained": retrain_reason or "no: the kept model of these rules",
            "linkage_mode": f"{mode}: {mode_reason}",
            "probability_two_random_records_match": model_json["probability_two_random_records_match"],
            "m_and_u": markdown_table(weights.with_columns(pl.col("m", "u").round(5)), max_rows=100),
            "training_notes": "\n".join(notes) or "none",
            "levels_collapsed": "\n".join(collapsed) or "none",
            # Splink's warning at every prediction, said once here (its text is in the run log).
            "levels_not_trained": "\n".join(untrained_levels(model_json)) or "none",
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_level_collapsed",
        passed=not collapsed,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(collapsed) or "every trained level has m above 1e-6",
    )


@dg.asset(
    key=["linkage", "pairs"],
    deps=[linkage_model],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="Candidate pairs from the blocking rules scored by the model, kept from the "
    "prediction threshold up: record keys, match weight and probability, and the weight of each "
    "comparison (no personal values). On an incremental night only pairs with a new or changed "
    "record are scored; the pairs among unchanged records are kept from the last night. Also "
    "writes `linkage.record_hashes`, `linkage.record_changes`, `linkage.dropped_pairs` and "
    "`linkage.state`.",
    kinds={"splink", "duckdb"},
)
def linkage_pairs(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    started = time.monotonic()
    rules = load_rules()
    run, model_json, tf_tables = _night_model(padu, warehouse)
    hashes_sql = record_hashes_sql("staging.person_records", HASHED_COLUMNS, keys=CAPPED_KEY_COLUMNS,
                                   blocks=CAPPED_KEY_BLOCKS)
    previous_state = warehouse.read("linkage.state").row(0, named=True) if warehouse.exists("linkage.state") else {}
    # A store linked before (it has a state) whose hashes are of another kind: nothing compares.
    other_kind = bool(previous_state) and previous_state.get("record_hash_kind") != RECORD_HASH_KIND
    comparable = not other_kind and warehouse.exists("linkage.record_hashes")
    # The linkage this night builds on: the clustering of what changed checks that it clustered it.
    previous_run_id = previous_state.get("run_id")
    with warehouse.connect() as con:
        # The common table's generation now, and the one the stored hashes were made from: a record
        # not written since then (staging/person_records marks each row it writes) is unchanged.
        # (Hashes of other columns compare with none of tonight's.)
        records_gen, full_gen = records_generations(con)
        same_columns = previous_state.get("record_hash_columns") == ",".join(HASHED_COLUMNS)
        hashed_gen = previous_state.get("records_gen") if same_columns else None
        written = since = None
        if comparable and None not in (hashed_gen, records_gen, full_gen) and full_gen <= hashed_gen <= records_gen:
            since = f"{REMADE_GEN} > {int(hashed_gen)}"
            written = record_hashes_sql("staging.person_records", HASHED_COLUMNS, since, CAPPED_KEY_COLUMNS,
                                        CAPPED_KEY_BLOCKS)
        delta = classify_records(con, hashes_sql, "linkage.record_hashes" if comparable else None, written)
    no_dropped = pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String,
                                      "previous_match_weight": pl.Float64, "match_weight": pl.Float64})
    mode = "full" if other_kind else run["mode"]
    in_place = mode == "incremental" and warehouse.exists("linkage.pairs")
    # An incremental night makes last night's hashes tonight's where they stand; a full one writes them whole.
    hashes_kept = comparable and mode == "incremental"
    search = _partner_search(model_json, previous_state)
    gone = delta.keys(*CHANGES)
    touched, rekeyed = delta.touched, delta.rekeyed
    lost = _stored_pairs_frame()
    added = pl.DataFrame(schema={k: pl.String for k in PAIR_KEYS})
    if in_place and search["partner_search_sql"] is None:
        # Every record is a partner: a record whose keys moved is scored again whole, as a changed one.
        touched, rekeyed, gone = pl.concat([touched, rekeyed]), rekeyed.clear(), pl.concat([gone, rekeyed])
    if in_place:
        # On a night no record left a block, a rekeyed record has no candidate pair that it did not
        # have last night: it is not searched (incremental.rekeyed_pairs).
        blocks_only_grew = delta.blocks_left == 0
        fresh, existing, blocked = _fresh_and_partners(warehouse, touched, search["partner_search_sql"], since,
                                                       rekeyed.clear() if blocks_only_grew else rekeyed)
        if blocked is not None and rekeyed.len():
            known = pl.concat([existing, fresh])
            with warehouse.connect() as con:
                stored = stored_pairs_of(con, rekeyed, gone)
            blocked, added, lost = rekeyed_pairs(
                blocked, touched, stored, partial(_records_of, warehouse, known), prediction_rules(model_json),
                CAPPED_KEY_COLUMNS, model_json.get("sql_dialect", "duckdb"), blocks_only_grew)
        scored = (score_fresh(fresh, existing, model_json, tf_tables, rules.predict_threshold, padu.backend)
                  if blocked is None else
                  score_pairs(pl.concat([existing, fresh]), blocked, model_json, tf_tables, rules.predict_threshold,
                              padu.backend))
        splink_rows = fresh.height + existing.height + (blocked.height if blocked is not None else 0)
        del fresh, existing, blocked
        scored_pairs = scored.height
    else:
        records = warehouse.read("staging.person_records", LINKAGE_COLUMNS)
        warehouse.release_memory()
        pairs = score_all(records, model_json, tf_tables, rules.predict_threshold, padu.backend)
        del records
        scored_pairs = pairs.height
        previous_pairs = warehouse.read("linkage.pairs") if warehouse.exists("linkage.pairs") else None
        dropped = (
            dropped_strong_pairs(previous_pairs, pairs, rules.cluster_threshold)
            if previous_pairs is not None and "match_weight" in previous_pairs.columns else no_dropped
        )
        del previous_pairs
        splink_rows = None
    release_splink(splink_rows)
    seconds = round(time.monotonic() - started, 1)
    with warehouse.transaction() as con:
        if in_place:
            # Last night's pairs among unchanged records stay where they are; the pairs of a changed
            # or deleted record go, tonight's scored pairs come in (writing the 430,000 pairs of a
            # 1M night whole took 0.4 s, and reading them back as long again).
            # A record whose keys alone moved keeps its pairs but those no rule lets through any
            # more (`lost`), and gains those a moved key lets through for the first time.
            dropped = pl.concat([dropped_pairs_of(con, gone, scored, rules.cluster_threshold),
                                 dropped_strong_pairs(lost, lost.clear(), rules.cluster_threshold)])
            replace_pairs_of(con, gone, scored, lost)
        else:
            replace_table(con, "linkage.pairs", pairs)
        if hashes_kept:
            replace_rows(con, "linkage.record_hashes", "record_key", delta.keys(*CHANGES, REKEYED),
                         delta.touched_hashes)
        else:
            con.execute(f"CREATE OR REPLACE TABLE linkage.record_hashes AS {hashes_sql}")
        tables = {
            "linkage.record_changes": delta.record_changes,
            REKEYED_PAIRS: _rekeyed_pair_changes(scored, added, lost) if in_place else _no_rekeyed_pairs(),
            "linkage.dropped_pairs": dropped,
            # What the next night builds on: these pairs were scored by this model.
            "linkage.state": pl.DataFrame({
                "run_id": [context.run.run_id], "previous_run_id": pl.Series([previous_run_id], dtype=pl.String),
                "model_id": [run["model_id"]], "rules_version": [rules.version_hash], "mode": [mode],
                "record_hash_kind": [RECORD_HASH_KIND], "records_gen": pl.Series([records_gen], dtype=pl.Int64),
                "record_hash_columns": [",".join(HASHED_COLUMNS)],
                "records_new": [delta.count("new")], "records_changed": [delta.count("changed")],
                "records_deleted": [delta.count("deleted")], "records_rekeyed": [delta.count(REKEYED)],
                "records_left_blocks": [delta.blocks_left],
                "pairs_scored": [scored_pairs], "seconds": [seconds],
            } | {column: pl.Series([search[column]], dtype=pl.String) for column in PARTNER_SEARCH}),
        }
        for name, frame in tables.items():
            replace_table(con, name, frame)
        bands = con.sql("""
            SELECT CASE WHEN match_probability >= 0.999 THEN '>= 0.999'
                        WHEN match_probability >= 0.99 THEN '0.99 - 0.999'
                        WHEN match_probability >= 0.9 THEN '0.9 - 0.99' ELSE '< 0.9' END AS probability,
                   count(*) AS pairs
            FROM linkage.pairs GROUP BY 1 ORDER BY 1""").pl()
    total_pairs = int(bands["pairs"].sum() or 0)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total_pairs,
            "linkage_mode": "full (the stored record hashes are of another kind)" if other_kind else mode,
            "model_id": run["model_id"],
            "records_new": delta.count("new"), "records_changed": delta.count("changed"),
            "records_deleted": delta.count("deleted"), "records_unchanged": delta.unchanged,
            # Records whose capped blocking keys alone moved (their block crossed its size limit):
            # not scored again, but their stored pairs checked against the rules that read a key
            # (against every rule, without a search, on a night the blocks only grew).
            "records_rekeyed": delta.count(REKEYED),
            # None deleted or moved out of a block by a change: the blocks only grew, and a rekeyed
            # record has no pair that was not a candidate last night (incremental.rekeyed_pairs).
            "records_left_blocks": delta.blocks_left,
            "rekeyed_pairs_scored": added.height, "rekeyed_pairs_lost": lost.height,
            "pairs_scored_tonight": scored_pairs,
            "joining_pairs_dropped": dropped.height,
            "seconds": seconds,
            "pairs_by_probability": markdown_table(bands),
        }
    )


# The scored pairs the twins rule makes two people (before the stated and reviewed matches, which
# overrule it), and the linkage, model, rule and code they were found for.
TWINS = "linkage.twin_links"
TWINS_STATE = "linkage.twin_links_state"


def _twins_tonight(warehouse: Warehouse, pairs: pl.DataFrame, linkage_state: dict, changes: pl.DataFrame,
                   model_id: str, tf_tables: dict[str, pl.DataFrame], rules: LinkageRules,
                   pair_changes: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """`twin_cannot_links` of tonight's pairs (changes: `linkage.record_changes`), its state row,
    and how it was found. A pair is twins or not by its two records alone (twins.COLUMNS, all of
    them hashed into the record hash) and the model's frozen name shares. So when tonight's pairs are last night's with the pairs of new,
    changed and deleted records taken out and those of the new and changed ones scored again, and
    the model, rule and code are last night's, last night's twins stay but for those of a changed
    or deleted record and the pairs lost by a record whose keys alone moved (`pair_changes`), and
    only the scored pairs of the new and changed records and those such a record gained are looked
    at: at 1M, on a P2MI-only night, 0.5 s for the same-source pairs of all 1.3M records."""
    state = pl.DataFrame({"pairs_run_id": [linkage_state["run_id"]], "model_id": [model_id],
                          "fingerprint": [clustering_fingerprint()], "rule": [str(rules.twin_name_rule)]})
    if rules.twin_name_rule is None or "name_key" not in tf_tables:
        return pl.DataFrame(schema={k: pl.String for k in PAIR_KEYS}), state, "no twins rule"

    def find(among: pl.DataFrame) -> pl.DataFrame:
        return twin_cannot_links(
            among, lambda keys: warehouse.read_rows_of("staging.person_records", keys, TWIN_COLUMNS),
            tf_tables["name_key"], *rules.twin_name_rule)

    stored = warehouse.read(TWINS_STATE).row(0, named=True) if warehouse.exists(TWINS_STATE) else {}
    same = {"pairs_run_id": linkage_state.get("previous_run_id")} | state.drop("pairs_run_id").row(0, named=True)
    builds_on = linkage_state["mode"] == "incremental" and all(stored.get(k) == v for k, v in same.items())
    if not (builds_on and warehouse.exists(TWINS)):
        return find(pairs), state, "among all the scored pairs"
    changed = changes["record_key"].implode()
    touched = changes.filter(pl.col("change") != "deleted")["record_key"].implode()
    pair_changes = pair_changes if pair_changes is not None else _no_rekeyed_pairs()
    kept = warehouse.read(TWINS).filter(~pl.col("record_key_l").is_in(changed),
                                        ~pl.col("record_key_r").is_in(changed)).join(
        pair_changes.filter(pl.col("change") == "lost").select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
    scored = pl.concat([
        pairs.filter(pl.col("record_key_l").is_in(touched) | pl.col("record_key_r").is_in(touched)),
        pairs.join(pair_changes.filter(pl.col("change") == "added").select(PAIR_KEYS), on=PAIR_KEYS, how="semi"),
    ]).unique()
    return (pl.concat([kept, find(scored)]).sort(PAIR_KEYS), state,
            f"among the {scored.height} pairs of new and changed records; {kept.height} kept")


@dg.asset(
    key=["linkage", "clusters"],
    deps=[linkage_pairs],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="Records grouped into persons: connected components of the pairs at the cluster "
    "threshold plus the links the sources state and the reviewers' matches; clusters above the "
    "size limit, holding a reviewer's non-match or a pair the model scores as two people are split "
    "(assets/linkage/constraints.py, assets/linkage/conflicts.py). On an incremental night only the "
    "components that new, changed or deleted records or changed constraints touch are clustered "
    "again; every other record keeps last night's cluster (assets/linkage/recluster.py). "
    "Two records of different sources that are each other's only (or clearly best) candidate join from a lower "
    "probability (assets/linkage/sole_candidates.py, `linkage.sole_candidate_links`); a pair with a record "
    "that has neither a NIK nor a birth date joins from a higher threshold "
    "(`thresholds.thin_record_cluster_match_probability`); twins on one "
    "card whose NIK is missing are kept apart (assets/linkage/twins.py). "
    "Also writes `linkage.components`, `linkage.cluster_splits`, `linkage.cluster_constraints`, "
    "`linkage.cluster_state`, the twins found (`linkage.twin_links`), the persons made again and those "
    "gone (`linkage.clusters_remade`, `linkage.clusters_gone`) and the clerical review queue (`linkage.review_queue`, "
    "`$PADU_DATA_DIR/review/queue.csv`).",
    kinds={"splink", "duckdb"},
    check_specs=[dg.AssetCheckSpec(
        "cluster_size_within_limit", asset=["linkage", "clusters"], blocking=True,
        description="No person holds more records than `clustering.max_cluster_size`.",
    )],
)
def linkage_clusters(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    rules = load_rules()
    run, model_json, tf_tables = _night_model(padu, warehouse)
    linkage_state = warehouse.read("linkage.state").row(0, named=True)
    # Clustering reads three columns of every pair; only the review queue's band needs them all.
    pairs = warehouse.read("linkage.pairs", ["record_key_l", "record_key_r", "match_probability"])
    stated = warehouse.read("staging.stated_links")
    review_dir = padu.data_path / "review"
    answers = read_answers(review_dir / "answers.csv")
    reviewed_matches, cannot_links = constraints_from_answers(answers)
    must_links = pl.concat([stated, reviewed_matches], how="vertical_relaxed")
    stated_or_reviewed = must_links.select(PAIR_KEYS)
    changes = warehouse.read("linkage.record_changes")
    # (A store linked before this table was kept was linked with the keys in the record hash.)
    pair_changes = warehouse.read(REKEYED_PAIRS) if warehouse.exists(REKEYED_PAIRS) else _no_rekeyed_pairs()
    twins_scored, twins_state, twins_counted = _twins_tonight(warehouse, pairs, linkage_state, changes,
                                                              run["model_id"], tf_tables, rules, pair_changes)
    twins = twins_scored.join(must_links.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
    cannot_links = cannot_links | frozenset(twins.iter_rows())
    # Pairs with a thin record below their own threshold are no edges (model.held_back).
    thin = (warehouse.query(THIN_RECORDS)["record_key"] if rules.thin_record_cluster_threshold
            else pl.Series([], dtype=pl.String))
    held = held_back(pairs, thin, rules.cluster_threshold, rules.thin_record_cluster_threshold)
    sole = sole_candidate_links(
        pairs, must_links, cannot_links,
        rules.sole_candidate_min_probability or rules.cluster_threshold, rules.cluster_threshold,
        rules.sole_candidate_runner_up_ratio, held,
    )
    lone = lone_person_links(pairs, thin, must_links, cannot_links, rules.thin_record_lone_person_min_probability,
                             rules.thin_record_cluster_threshold, rules.cluster_threshold,
                             rules.sole_candidate_runner_up_ratio)
    sole = pl.concat([sole, lone.join(sole, on=PAIR_KEYS, how="anti")]).sort(PAIR_KEYS)
    must_links = pl.concat([must_links, sole.select(must_links.columns)], how="vertical_relaxed")
    scored = pairs  # every pair scored, held back or not: the conflict scoring need not score them again
    pairs = pairs.filter(~held)
    edges = cluster_edges(pairs, must_links)
    constraints = constraint_table(must_links, cannot_links)

    # Last night's clustering, which only a night that links incrementally can build on.
    # (Last night's clusters and splits are kept where they stand: only whether they are there counts.)
    # (Last night's components are read for the seeds of tonight's clustering only: reading the
    # 1.3M rows took 0.1 s at 1M.)
    previous = {t: warehouse.read(t) if linkage_state["mode"] == "incremental" and warehouse.exists(t) else None
                for t in (CONSTRAINTS, CLUSTER_STATE)}
    # Built on only when every one of them is there (a store from before this step kept them lacks some).
    complete = all(table is not None for table in previous.values()) and all(
        warehouse.exists(t) for t in (COMPONENTS, *KEPT_WHERE_THEY_STAND))
    plan = plan_clustering(
        previous[CLUSTER_STATE].row(0, named=True) if complete else None,
        linkage_state, changes,
        pairs.filter(pl.col("match_probability") >= rules.cluster_threshold), constraints,
        previous[CONSTRAINTS], partial(_components_holding, warehouse) if complete else None, pair_changes,
    )
    if not plan.full and (crossing := crossing_edges(edges, plan.redo, rules.cluster_threshold)):
        context.log.warning(f"{crossing} edges join a kept component to one clustered again: clustering all records")
        plan = replace(plan, full=True, reason=f"{crossing} edges crossed the kept components")
    if plan.full:
        records = warehouse.read("staging.person_records", ["record_key"])
        warehouse.release_memory()

        def linkage_records(keys: pl.DataFrame) -> pl.DataFrame:
            return warehouse.read_rows_of("staging.person_records", keys, LINKAGE_COLUMNS + FAMILY_COLUMNS)
    else:  # tonight's records among those clustered again (not every record's key: 0.2 s at 1M)
        redo = plan.redo.implode()
        # Read once, whole: the conflicts and the family roles read records of theirs (at 1M, a
        # P2MI-only night's two reads of the store took 0.16 s, this one 0.09 s).
        redone = warehouse.read_rows_of("staging.person_records", plan.redo.to_frame("record_key"),
                                        LINKAGE_COLUMNS + FAMILY_COLUMNS)
        records = redone.select("record_key")
        edges = edges.filter(pl.col("record_key_l").is_in(redo) & pl.col("record_key_r").is_in(redo))

        def linkage_records(keys: pl.DataFrame) -> pl.DataFrame:
            return redone.join(keys, on="record_key", how="semi")
    linked = pl.concat([stated_or_reviewed["record_key_l"], stated_or_reviewed["record_key_r"]]).unique()
    niks = warehouse.read_rows_of("staging.person_records", linked.to_frame("record_key"), ["record_key", "nik"])
    result = cluster_people(
        records, edges, must_links, cannot_links,
        linkage_records,
        model_json, tf_tables, rules, padu.backend,
        conflict_exempt=conflict_exempt_records(stated, stated_or_reviewed, niks), scored=scored,
    )
    lower, upper = rules.review_band
    in_band = warehouse.query(
        "SELECT * FROM linkage.pairs WHERE match_probability >= ? AND match_probability < ?", [lower, upper]
    )
    queue = review_queue(in_band, answers, lower, upper)
    with warehouse.transaction() as con:
        # Tonight's clusters, components and splits; on an incremental night in place of last
        # night's rows of the records clustered again, the others' rows untouched.
        # Last night's clusters of the redone records, with their sizes: each lies whole among
        # the redone records (a cluster lies inside a component, and components are redone whole).
        replaced = pl.DataFrame(schema={"cluster_id": pl.String, "size": pl.Int64})
        sizes_kept = not plan.full and table_exists(con, CLUSTER_SIZES)
        if plan.full:
            for name, frame in zip(KEPT_WHERE_THEY_STAND, (result.clusters, result.components, result.splits)):
                replace_table(con, name, frame)
        else:
            con.register("__redo", plan.redo.to_frame("record_key").to_arrow())
            replaced = con.sql("SELECT cluster_id, count(*) AS size FROM linkage.clusters "
                               "SEMI JOIN __redo USING (record_key) GROUP BY cluster_id").pl()
            con.unregister("__redo")
            replace_rows(con, "linkage.clusters", "record_key", plan.redo, result.clusters)
            replace_rows(con, COMPONENTS, "record_key", plan.redo, result.components)
            replace_rows(con, "linkage.cluster_splits", "cluster_id", plan.redo, result.splits)
        # The persons gone tonight: a cluster no record holds any more held only records clustered
        # again (a kept record keeps its cluster), so it is one of theirs last night. Read by the
        # diagnostics, which keep the other persons' rows (at 1M, finding them among all the
        # clusters took 0.35 s of a night).
        con.register("__replaced", replaced.to_arrow())
        con.execute(f"CREATE OR REPLACE TABLE {GONE_CLUSTERS} AS "
                    "SELECT cluster_id FROM __replaced ANTI JOIN linkage.clusters USING (cluster_id)")
        con.unregister("__replaced")
        # A cluster made tonight holds records clustered again only (components are clustered
        # again whole). Named once here, not found by the diagnostics among 1.3M records each
        # time they count (0.04 s a query, six queries).
        replace_table(con, REMADE_CLUSTERS_TABLE, result.clusters.select("cluster_id").unique().sort("cluster_id")
                      if not plan.full else result.clusters.select("cluster_id").clear())
        if sizes_kept:
            # Last night's counts, less the clusters replaced, plus tonight's (counting the 1.3M
            # records' clusters took 0.16 s at 1M).
            sizes = _sizes_updated(con.sql(f"SELECT * FROM {CLUSTER_SIZES}").pl(), replaced["size"],
                                   result.clusters.group_by("cluster_id").len("size")["size"])
        else:
            sizes = con.sql("SELECT size, count(*) AS clusters FROM (SELECT count(*) AS size FROM linkage.clusters "
                            "GROUP BY cluster_id) GROUP BY size ORDER BY size").pl()
        replace_table(con, CLUSTER_SIZES, sizes)
        # What tonight made of each queued pair without an answer: one person or two (a pair with
        # a thin record under its own threshold waits here apart, unless it joined as a sole
        # candidate).
        con.register("__queued", queue.select("pair_id", "record_key_l", "record_key_r").to_arrow())
        tonight = con.sql("SELECT q.pair_id, l.cluster_id = r.cluster_id AS one_person_tonight FROM __queued q "
                          "JOIN linkage.clusters l ON l.record_key = q.record_key_l "
                          "JOIN linkage.clusters r ON r.record_key = q.record_key_r").pl()
        con.unregister("__queued")
        queue = queue.join(tonight, on="pair_id", how="left", maintain_order="left")
        clustered = int(sizes.select(pl.col("size") * pl.col("clusters")).sum().item() or 0)
        for name, frame in {
            CONSTRAINTS: constraints, "linkage.review_queue": queue, "linkage.sole_candidate_links": sole,
            TWINS: twins_scored, TWINS_STATE: twins_state,
            # Last night's and tonight's records outside it keep their cluster (empty on a full night).
            REDONE: pl.DataFrame({"record_key": [] if plan.full else plan.redo}, schema={"record_key": pl.String}),
            CLUSTER_STATE: pl.DataFrame({
                "run_id": [context.run.run_id], "pairs_run_id": [linkage_state["run_id"]],
                "model_id": [run["model_id"]], "fingerprint": [clustering_fingerprint()],
                "mode": ["full" if plan.full else "incremental"], "reason": [plan.reason],
                "records": [clustered], "records_clustered": [records.height],
                "conflicts": [result.conflicts.height],
                # The clustering whose clusters the kept records carry over.
                "built_on_run_id": [None if plan.full else previous[CLUSTER_STATE]["run_id"][0]],
            }, schema_overrides={"built_on_run_id": pl.String}),
        }.items():
            replace_table(con, name, frame)
    review_dir.mkdir(parents=True, exist_ok=True)
    queue.write_csv(review_dir / "queue.csv")
    largest = int(sizes["size"].max() or 0)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": clustered,
            "clusters": int(sizes["clusters"].sum()),
            "largest_cluster": largest,
            "cluster_sizes": markdown_table(sizes),
            "clustering_mode": f"{'full' if plan.full else 'incremental'}: {plan.reason}",
            "records_clustered_tonight": records.height,
            "clusters_split_tonight": result.splits.height,
            "sole_candidate_links": sole.height,
            # Pairs with a thin record between the cluster threshold and their own (model.held_back).
            "thin_record_pairs_held_back": int(held.sum()),
            # ... and those of a thin record whose every candidate is one person (sole_candidates.py).
            "thin_record_lone_person_links": lone.height,
            "twin_cannot_links": twins.height,
            "twin_cannot_links_found": twins_counted,
            "conflicts_inside_clusters_tonight": result.conflicts.height,
            "family_role_cannot_links_tonight": result.role_conflicts.height,
            "review_answers_applied": answers.height,
            "review_queue": queue.height,
            "review_queue_file": dg.MetadataValue.path(str(review_dir / "queue.csv")),
        }
    )
    yield dg.AssetCheckResult(
        check_name="cluster_size_within_limit",
        passed=largest <= rules.max_cluster_size,
        description=f"largest person has {largest} records; the limit is {rules.max_cluster_size}",
    )


@dg.asset(
    key=["linkage", "diagnostics"],
    # After publishing, which needs none of it: the analysts' tables come first, and a failure here
    # never holds them back.
    deps=[linkage_clusters, dg.AssetKey(["published", "run_info"])],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="How the linkage behaved, with no personal value: Splink's match-weight and m/u "
    "charts of the model (HTML under `$PADU_DATA_DIR/reports/models/<model>/`), its comparison "
    "viewer over a sample of the scored pairs, identifying values shown as keyed tokens (HTML under "
    "`$PADU_DATA_DIR/reports/<run>/`), and pairs per blocking rule (these two carried over on "
    "incremental nights until 5% of the records changed), link "
    "rates per source pair and per province, and how densely each person's records are linked "
    "(`linkage.cluster_metrics`, counted on an incremental night for the persons clustered again "
    "and kept for the others; the cluster size distribution is on `linkage/clusters`).",
    kinds={"splink"},
)
def linkage_diagnostics(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    rules = load_rules()
    run, model_json, tf_tables = _night_model(padu, warehouse)
    charts = model_charts_of(run["model_id"], model_json, padu.reports_path)
    population = _population_reports_tonight(context, padu, warehouse, rules, model_json, tf_tables)
    blocking, state = population["blocking"], population["state"].row(0, named=True)
    if population["reason"]:  # Splink made them tonight
        release_splink()
    cluster_state = warehouse.read(CLUSTER_STATE).row(0, named=True)
    stored = _stored_metrics_built_on(warehouse, cluster_state)
    density, density_counted = _cluster_metrics_tonight(warehouse, stored, rules.cluster_threshold)
    parts_kept = _link_rate_parts_kept(warehouse, stored)
    with warehouse.transaction() as con:
        by_pair, by_province, rates_counted = _link_rates_tonight(con, parts_kept)
        tables = {"linkage.blocking_report": blocking, BLOCKING_STATE: population["state"],
                  "linkage.link_rates": by_pair, "linkage.link_rates_by_province": by_province,
                  "linkage.cluster_metrics": density,
                  METRICS_STATE: pl.DataFrame({"clustering_run_id": [cluster_state["run_id"]],
                                               "threshold": [rules.cluster_threshold]})}
        for name, frame in tables.items():
            replace_table(con, name, frame)
    counted = (f"tonight ({population['reason']})" if population["reason"] else
               f"carried over from run {state['run_id']}: {state['records_changed_since']} records changed since")
    return dg.MaterializeResult(
        metadata={
            "match_weights_chart": dg.MetadataValue.path(str(charts["match_weights"])),
            "m_u_chart": dg.MetadataValue.path(str(charts["m_u_parameters"])),
            "comparison_viewer": dg.MetadataValue.path(str(padu.reports_path / state["comparison_viewer"])),
            "comparison_viewer_pairs": state["comparison_viewer_pairs"],
            "candidate_pairs": int(blocking["cumulative_pairs"][-1]) if blocking.height else 0,
            "blocking_rules": markdown_table(blocking, max_rows=30),
            "blocking_report_counted": counted,
            "link_rates_by_source_pair": markdown_table(by_pair),
            "link_rates_by_province": markdown_table(by_province, max_rows=40),
            "link_rates_counted": rates_counted,
            # A chain of records each linked only to the next: density near 2/n.
            "persons_of_3_or_more_records": density.height,
            "cluster_metrics_counted": density_counted,
            "weakly_connected_persons": density.filter(pl.col("density") < 0.5).height,
            "least_connected_persons": markdown_table(
                density.head(20).with_columns(pl.col("density", "weakest_edge").round(4))
            ),
        }
    )


# Which clustering `linkage.cluster_metrics` describes, and at which threshold.
METRICS_STATE = "linkage.cluster_metrics_state"
PAIR_COLUMNS = ["record_key_l", "record_key_r", "match_probability"]


# The persons tonight's clustering made again: a cluster holding a record it clustered again.
REMADE_CLUSTERS = f"SELECT cluster_id FROM {REMADE_CLUSTERS_TABLE}"


def _stored_metrics_built_on(warehouse: Warehouse, state: dict) -> dict | None:
    """METRICS_STATE's row (the clustering the stored cluster metrics and link-rate parts describe,
    written with them) when tonight's clustering (state: its CLUSTER_STATE row) clustered only some
    components again on top of that clustering; None when every person must be counted again."""
    stored = warehouse.read(METRICS_STATE).row(0, named=True) if warehouse.exists(METRICS_STATE) else {}
    built_on = state["mode"] == "incremental" and stored.get("clustering_run_id") == state.get("built_on_run_id")
    return stored if built_on and warehouse.exists(GONE_CLUSTERS) and warehouse.exists(REMADE_CLUSTERS_TABLE) else None


def _cluster_metrics_tonight(warehouse: Warehouse, stored: dict | None,
                             threshold: float) -> tuple[pl.DataFrame, str]:
    """`cluster_metrics` of tonight's clusters (`linkage.clusters`), and how they were counted
    (stored: `_stored_metrics_built_on`). When tonight's clustering built on the one the stored
    metrics describe and clustered only some components again, a person outside them has the
    records and the pairs it had (recluster.py), so its row is kept; the persons made tonight are
    counted on their records and pairs alone (at 1M, 0.33 s for all 1.3M records against a few
    hundredths), and only their rows leave the store."""
    if not (stored and stored.get("threshold") == threshold and warehouse.exists("linkage.cluster_metrics")):
        return (cluster_metrics(warehouse.read("linkage.clusters"), warehouse.read("linkage.pairs", PAIR_COLUMNS),
                                threshold), "tonight, all persons")
    remade = warehouse.query(
        f"SELECT record_key, cluster_id FROM linkage.clusters WHERE cluster_id IN ({REMADE_CLUSTERS})")
    keys = remade.select(pl.col("record_key").alias("record_key_l"))
    edges = warehouse.read_rows_of("linkage.pairs", keys, PAIR_COLUMNS).filter(
        pl.col("record_key_r").is_in(remade["record_key"].implode()))
    fresh = cluster_metrics(remade, edges, threshold)
    # Kept: last night's persons that tonight neither made again nor dissolved.
    kept = warehouse.query(
        "SELECT * FROM linkage.cluster_metrics "
        f"WHERE cluster_id NOT IN (SELECT cluster_id::VARCHAR FROM ({REMADE_CLUSTERS})) "
        f"AND cluster_id NOT IN (SELECT cluster_id FROM {GONE_CLUSTERS})")
    metrics = pl.concat([kept.cast(fresh.schema), fresh]).sort("density", "cluster_id")
    return metrics, f"tonight for the {fresh.height} persons of 3 or more records clustered again; kept for the others"


def _link_rate_parts_kept(warehouse: Warehouse, stored: dict | None) -> bool:
    """Whether the stored link-rate parts can be kept for the persons not clustered again
    (stored: `_stored_metrics_built_on`)."""
    return (stored is not None
            and all(warehouse.exists(t) for t in (LINK_RATE_PERSONS, LINK_RATE_PROVINCES)))


def _link_rates_tonight(con, kept: bool) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """The link rates of tonight's clusters, counted from their parts per person
    (diagnostics.link_rate_parts_sql), inside the caller's transaction. When the stored parts are
    kept (`_link_rate_parts_kept`), the parts of the persons clustered again are counted again and
    the rows of persons that are gone deleted; every other person has the records it had
    (recluster.py), so its rows stay. Otherwise every person is counted."""
    parts = dict(zip((LINK_RATE_PERSONS, LINK_RATE_PROVINCES),
                     link_rate_parts_sql("staging.person_records", "linkage.clusters")))
    if kept:
        remade_parts = link_rate_parts_sql("staging.person_records", "linkage.clusters",
                                           f"c.cluster_id IN ({REMADE_CLUSTERS})")
        for table, sql in zip(parts, remade_parts):
            con.execute(f"DELETE FROM {table} WHERE cluster_id IN ({REMADE_CLUSTERS}) "
                        f"OR cluster_id IN (SELECT cluster_id FROM {GONE_CLUSTERS})")
            con.execute(f"INSERT INTO {table} BY NAME {sql}")
        counted = "tonight for the persons clustered again; kept for the others"
    else:
        for table, sql in parts.items():
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}")
        counted = "tonight, all persons"
    by_pair, by_province = (con.sql(sql).pl() for sql in link_rates_sql(*parts))
    return by_pair, by_province, counted


def _population_reports_tonight(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse,
                                rules: LinkageRules, model_json: dict, tf_tables: dict) -> dict:
    """The reports that describe the whole population, the blocking report and the comparison
    viewer over a sample of the pairs: made tonight or carried over from the night that made them
    (diagnostics.blocking_recount_reason). Returns blocking (the report), state (its state row:
    the viewer's file and pair count too) and reason (why they were made tonight; None when
    carried over)."""
    plan = plan_recount(warehouse, BLOCKING_STATE, "linkage.blocking_report", rules.version_hash)
    # The viewer's path is kept relative to the reports folder, so that a data folder moved whole
    # keeps its reports (an absolute path, kept before stop 39, still reads as one).
    if plan.reason is None and not (padu.reports_path / (plan.previous.get("comparison_viewer") or "")).is_file():
        plan.reason = "the last comparison viewer is gone"
    if plan.reason is None:
        return {"blocking": warehouse.read("linkage.blocking_report"), "state": plan.carried_state(), "reason": None}
    records = warehouse.read("staging.person_records", LINKAGE_COLUMNS)
    warehouse.release_memory()
    viewer = padu.reports_path / context.run.run_id / "comparison_viewer.html"
    viewer_pairs = comparison_viewer(
        records, warehouse.read("linkage.pairs"), model_json, tf_tables,
        resolve_key(padu.pseudonym_key, padu.data_path, padu.production), viewer,
    )
    state = plan.fresh_state(context.run.run_id, comparison_viewer=viewer.relative_to(padu.reports_path).as_posix(),
                             comparison_viewer_pairs=viewer_pairs)
    return {"blocking": blocking_report(records, rules), "state": state, "reason": plan.reason}
