"""Conflicts inside clusters. Connected components join two records through others even when the
model, asked about the two directly, says they are two people: two NIKs each encoding its own
record's birth date, a generation apart, one family card with two different names. Every pair
inside a cluster of three or more records is scored with the night's model; a pair below
`clustering.cannot_link_below_match_probability` becomes a cannot-link, and the cluster is split
by rule 2 of assets/linkage/constraints.py.

Only when some comparison speaks against the pair (a match weight at or below
`clustering.cannot_link_evidence_weight`). Two thin case records, each a name and a passport
number, score below 0.001 on the prior alone: nothing says they are two people, and the same
person's third record (a placement holding both passports in turn) must be free to join them.

Some evidence says two people on its own (`clustering.cannot_link_conditions`): two NIKs that
each encode their own record's birth date. A pair that meets such a condition is a cannot-link up
to a higher probability (0.5): otherwise a record with a default date, or a thin case, that scores
well with two namesakes chains their two persons into one.

Scored on DuckDB whatever the linkage backend: the pairs inside clusters are few (about 52,000 at
200,000 persons), and of those only the ones the night has no score for at or above every
threshold above need scoring (3,158 of 263,650 at 1M persons)."""

from __future__ import annotations

import duckdb
import polars as pl

from assets.linkage.backend import DUCKDB, make_db_api
from assets.linkage.incremental import PAIR_KEYS, ordered_pair_keys, predict_pairs
from assets.linkage.model import LINKAGE_COLUMNS


def within_cluster_conflicts(records: pl.DataFrame, clusters: pl.DataFrame, model_json: dict,
                             tf_tables: dict[str, pl.DataFrame], below: float,
                             evidence_weight: float | None = None,
                             conditions: list[tuple[str, float]] | None = None,
                             exempt: pl.Series | None = None, scored: pl.DataFrame | None = None) -> pl.DataFrame:
    """records: LINKAGE_COLUMNS; clusters: record_key, cluster_id. Returns record_key_l,
    record_key_r, match_probability of the pairs inside one cluster that the model scores below
    `below` and, when `evidence_weight` is given, on which some comparison weighs at most
    `evidence_weight`; and of the pairs scored below `higher` that meet `condition` (DuckDB SQL
    over the pair's mw_* and matching *_l, *_r columns), for each (condition, higher). A pair with
    a record among the keys `exempt` is no conflict (recluster.conflict_exempt_records).

    `scored`: pairs already scored by the same model (record_key_l, record_key_r with the smaller
    key left, match_probability; the night's `linkage.pairs`). One scored at or above every
    threshold here is no conflict, and is not scored again: at 1M persons, 260,492 of the
    263,650 pairs inside clusters of three or more records, and 4,633 of 4,662 on a P2MI-only
    night."""
    empty = pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String,
                                 "match_probability": pl.Float64})
    sizes = clusters.group_by("cluster_id").len("size")
    multi = clusters.join(sizes.filter(pl.col("size") >= 3), on="cluster_id", how="semi").select(
        "record_key", pl.col("cluster_id").cast(pl.String))
    pairs = (multi.join(multi, on="cluster_id", suffix="_r").filter(pl.col("record_key") < pl.col("record_key_r"))
             .select(pl.col("record_key").alias("record_key_l"), "record_key_r"))
    if scored is not None:
        highest = max([below, *(higher for _, higher in conditions or [])])
        # Of the clusters' records first (on an incremental night, a few thousand of 1.3M):
        # anti-joined with every scored pair, 0.022 s against 0.009 s.
        known = scored.filter(pl.col("record_key_l").is_in(multi["record_key"].implode())
                              & (pl.col("match_probability") >= highest)).select(PAIR_KEYS)
        pairs = pairs.join(known, on=PAIR_KEYS, how="anti")
    if pairs.is_empty():
        return empty
    settings = {**model_json, "retain_matching_columns": bool(conditions)}
    with make_db_api(DUCKDB) as db_api:
        predictions = predict_pairs(records.select(LINKAGE_COLUMNS), pairs, settings, tf_tables, None, db_api)
        scored_here = predictions.as_pyarrow_table()
    weights = [c for c in scored_here.column_names
               if c.startswith("mw_") and not c.startswith("mw_tf_adj_") and c != "mw_prior"]
    conflict = f"match_probability < {below!r}"
    if evidence_weight is not None:
        conflict += f" AND least({', '.join(weights)}) <= {evidence_weight!r}"
    for condition, higher in conditions or []:
        conflict = f"({conflict}) OR (match_probability < {higher!r} AND coalesce({condition}, false))"
    spared = exempt is not None and not exempt.is_empty()
    if spared:
        conflict = (f"({conflict}) AND record_key_l NOT IN (SELECT record_key FROM exempt) "
                    "AND record_key_r NOT IN (SELECT record_key FROM exempt)")
    with duckdb.connect() as con:
        con.register("scored", scored_here)
        if spared:
            con.register("exempt", pl.DataFrame({"record_key": exempt}, schema={"record_key": pl.String}).to_arrow())
        low = con.sql(f"SELECT record_key_l, record_key_r, match_probability FROM scored WHERE {conflict}").pl()
    if low.is_empty():
        return empty
    return low.select(*ordered_pair_keys(), "match_probability")
