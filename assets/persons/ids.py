"""Stable person ids: tonight's clusters are mapped onto the last published person ids through the
records they share, so that a person keeps one id from night to night.

The rule (docs/status_and_ids.md):
- every (cluster, previous id) pair is scored by the number of records they share; pairs are taken
  in order of most shared records (ties: the older id, i.e. the smaller one), and a cluster takes
  a previous id when neither has been taken yet. So when a person is split, the part holding
  most of the old records keeps the id; when two persons merge, the id with most records in the
  merged cluster survives (on a tie, the older one).
- a cluster that takes no previous id gets a new id (event `created`, or `split` when some of its
  records had a previous id);
- a previous id that no cluster takes is `merged` (into the cluster holding most of its records)
  or `retired` (none of its records is left).
Ids are opaque: `P` + 16 hex digits of a hash of the run id and the cluster's first record, so
an id is never issued twice."""

from __future__ import annotations

import hashlib

import polars as pl

EVENT_SCHEMA = {
    "run_id": pl.String,
    "event": pl.String,
    "person_id": pl.String,
    "related_person_id": pl.String,
    "records": pl.Int64,
    "evidence": pl.String,
}


def new_person_id(run_id: str, first_record_key: str) -> str:
    return "P" + hashlib.sha256(f"{run_id}|{first_record_key}".encode()).hexdigest()[:16].upper()


def assign_stable_person_ids(
    clusters: pl.DataFrame, previous: pl.DataFrame | None, run_id: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """clusters: record_key, cluster_id. previous: record_key, person_id (last published).
    Returns (record_key, person_id) and the events of this run."""
    if previous is None:
        previous = pl.DataFrame(schema={"record_key": pl.String, "person_id": pl.String})
    joined = clusters.join(previous, on="record_key", how="left")
    overlap = (
        joined.filter(pl.col("person_id").is_not_null())
        .group_by("cluster_id", "person_id")
        .len("shared")
        .sort(["shared", "person_id", "cluster_id"], descending=[True, False, False])
    )
    taken_clusters: dict[object, str] = {}
    taken_ids: set[str] = set()
    for cluster_id, person_id, _shared in overlap.iter_rows():
        if cluster_id in taken_clusters or person_id in taken_ids:
            continue
        taken_clusters[cluster_id] = person_id
        taken_ids.add(person_id)

    first_record = clusters.group_by("cluster_id").agg(
        pl.col("record_key").min().alias("first_record"), pl.len().alias("records")
    )
    assigned = first_record.with_columns(
        pl.col("cluster_id").replace_strict(taken_clusters, default=None, return_dtype=pl.String)
        .alias("kept_id")
    )
    fresh = assigned.filter(pl.col("kept_id").is_null())
    fresh_ids = [new_person_id(run_id, key) for key in fresh["first_record"].to_list()]
    fresh = fresh.with_columns(pl.Series("person_id", fresh_ids, dtype=pl.String))
    kept = assigned.filter(pl.col("kept_id").is_not_null()).with_columns(pl.col("kept_id").alias("person_id"))
    cluster_ids = pl.concat([kept, fresh], how="vertical_relaxed").select("cluster_id", "person_id", "records")
    mapping = clusters.join(cluster_ids.select("cluster_id", "person_id"), on="cluster_id").select(
        "record_key", "person_id"
    )

    events: list[dict] = []
    # New ids: split from a previous person when some of their records had an id before.
    split_from = (
        overlap.join(fresh.select("cluster_id", "person_id"), on="cluster_id", suffix="_new")
        .sort("shared", descending=True)
        .group_by("cluster_id", maintain_order=True)
        .first()
    )
    split_map = {row["cluster_id"]: row for row in split_from.iter_rows(named=True)}
    for row in fresh.iter_rows(named=True):
        origin = split_map.get(row["cluster_id"])
        if origin is None:
            events.append(dict(run_id=run_id, event="created", person_id=row["person_id"],
                               related_person_id=None, records=row["records"],
                               evidence="records not linked to any published person"))
        else:
            events.append(dict(run_id=run_id, event="split", person_id=row["person_id"],
                               related_person_id=origin["person_id"], records=row["records"],
                               evidence=f"{origin['shared']} records moved out of {origin['person_id']}"))
    # Previous ids no cluster kept: merged into the cluster that holds most of their records.
    lost = previous.select("person_id").unique().filter(~pl.col("person_id").is_in(list(taken_ids)))
    if lost.height:
        destinations = (
            overlap.filter(pl.col("person_id").is_in(lost["person_id"].implode()))
            .join(cluster_ids.rename({"person_id": "into"}), on="cluster_id")
            .sort("shared", descending=True)
            .group_by("person_id", maintain_order=True)
            .first()
        )
        into = {r["person_id"]: r for r in destinations.iter_rows(named=True)}
        for person_id in sorted(lost["person_id"].to_list()):
            hit = into.get(person_id)
            if hit is None:
                events.append(dict(run_id=run_id, event="retired", person_id=person_id,
                                   related_person_id=None, records=0,
                                   evidence="none of its records is in the newest deliveries"))
            else:
                events.append(dict(run_id=run_id, event="merged", person_id=person_id,
                                   related_person_id=hit["into"], records=hit["shared"],
                                   evidence=f"{hit['shared']} records now linked with {hit['into']}"))
    return mapping, pl.DataFrame(events, schema=EVENT_SCHEMA)
