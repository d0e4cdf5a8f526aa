"""Stable person ids: tonight's clusters are mapped onto the last published person ids through the
records they share, so that a person keeps one id from night to night.

The rule (docs/status_and_ids.md):
1. each previous id goes with the cluster that holds most of its records tonight (ties: the
   cluster whose smallest record key is smallest). So when a person is split, the part holding
   most of the old records keeps the id;
2. a cluster that several previous ids go with keeps the **oldest** of them (the earliest
   `created`/`split` event; ties: the smaller id); the others are `merged` into it;
3. a cluster that no previous id goes with gets a new id: `split` when some of its records had an
   id before (from the id it holds most records of), else `created`;
4. a previous id none of whose records is delivered any more is `retired`;
5. a record whose id changes for any other reason (it left one person for another, both of whom
   keep their ids) is `moved`.
Every event names its records and the pairs that caused it. Ids are opaque, `P` + 16 hex digits of
a hash of the run id and the cluster's first record, and never issued twice."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import polars as pl

EVENT_SCHEMA = {
    "run_id": pl.String,
    "recorded_at": pl.Datetime("us", "UTC"),
    "event": pl.String,
    "person_id": pl.String,
    "related_person_id": pl.String,
    "records": pl.Int64,
    "record_keys": pl.String,
    "evidence": pl.String,
}
EVIDENCE_PAIRS = 3  # the strongest pairs named as the evidence of one event


def new_person_id(run_id: str, first_record_key: str) -> str:
    return "P" + hashlib.sha256(f"{run_id}|{first_record_key}".encode()).hexdigest()[:16].upper()


def id_ages(events: pl.DataFrame | None) -> pl.DataFrame:
    """person_id, created_at: when each id was issued, from the published events history."""
    if events is None or "recorded_at" not in events.columns:
        return pl.DataFrame(schema={"person_id": pl.String, "created_at": pl.Datetime("us", "UTC")})
    return (
        events.filter(pl.col("event").is_in(["created", "split"]))
        .group_by("person_id")
        .agg(pl.col("recorded_at").min().alias("created_at"))
    )


def _pair_text(row: dict) -> str:
    pair = f"{row['record_key_l']}~{row['record_key_r']}"
    if row.get("previous_match_weight") is not None:
        now = "below the cluster threshold" if row["match_weight"] is None else f"now {row['match_weight']:.2f}"
        return f"pair {pair} was weight {row['previous_match_weight']:.2f}, {now}"
    if row["match_weight"] is None:
        return f"stated link {pair}"
    return f"pair {pair} weight {row['match_weight']:.2f}"


def _crossing(pairs: pl.DataFrame, inside: list[str], other: list[str] | None) -> list[dict]:
    """Pairs with one record in `inside` and the other in `other` (or anywhere outside `inside`),
    strongest (stated links) first."""
    a = pl.Series(inside, dtype=pl.String).implode()
    l_in, r_in = pl.col("record_key_l").is_in(a), pl.col("record_key_r").is_in(a)
    if other is None:
        hit = pairs.filter(l_in ^ r_in)
    else:
        b = pl.Series(other, dtype=pl.String).implode()
        hit = pairs.filter((l_in & pl.col("record_key_r").is_in(b)) | (r_in & pl.col("record_key_l").is_in(b)))
    weight = "previous_match_weight" if "previous_match_weight" in hit.columns else "match_weight"
    return hit.sort(pl.col(weight).fill_null(float("inf")), descending=True).head(EVIDENCE_PAIRS).to_dicts()


def assign_stable_person_ids(
    clusters: pl.DataFrame,
    previous: pl.DataFrame | None,
    run_id: str,
    *,
    ages: pl.DataFrame | None = None,
    edges: pl.DataFrame | None = None,
    dropped_pairs: pl.DataFrame | None = None,
    issued_ids: set[str] | None = None,
    recorded_at: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """clusters: record_key, cluster_id. previous: record_key, person_id (last published).
    ages: person_id, created_at (`id_ages`); an id without one counts as oldest.
    edges: tonight's joining pairs (record_key_l, record_key_r, match_weight; null weight for a
    stated link). dropped_pairs: last night's joining pairs that no longer join
    (record_key_l, record_key_r, previous_match_weight, match_weight).
    Returns (record_key, person_id) and the events of this run."""
    recorded_at = recorded_at or datetime.now(timezone.utc)
    if previous is None:
        previous = pl.DataFrame(schema={"record_key": pl.String, "person_id": pl.String})
    pair_schema = {"record_key_l": pl.String, "record_key_r": pl.String, "match_weight": pl.Float64}
    edges = edges if edges is not None else pl.DataFrame(schema=pair_schema)
    dropped_pairs = dropped_pairs if dropped_pairs is not None else pl.DataFrame(
        schema={**pair_schema, "previous_match_weight": pl.Float64})
    issued = set(issued_ids or ()) | set(previous["person_id"].unique().to_list())

    clusters = clusters.with_columns(pl.col("cluster_id").cast(pl.String))
    per_cluster = clusters.group_by("cluster_id").agg(
        pl.col("record_key").min().alias("first_record"), pl.len().alias("records"),
        pl.col("record_key").sort().str.join(" ").alias("record_keys"),
    )
    overlap = (
        clusters.join(previous, on="record_key").group_by("cluster_id", "person_id").len("shared")
        .join(per_cluster.select("cluster_id", "first_record"), on="cluster_id")
    )
    # 1. Each previous id goes with the cluster holding most of its records.
    home = (
        overlap.sort(["person_id", "shared", "first_record"], descending=[False, True, False])
        .group_by("person_id", maintain_order=True).first()
    )
    # 2. A cluster keeps the oldest id that goes with it.
    age = ages if ages is not None else id_ages(None)
    ranked = home.join(age, on="person_id", how="left").sort(
        ["cluster_id", "created_at", "person_id"], nulls_last=False
    )
    keeper = ranked.group_by("cluster_id", maintain_order=True).first().select("cluster_id", "person_id")
    merged = ranked.join(keeper.rename({"person_id": "into"}), on="cluster_id").filter(
        pl.col("person_id") != pl.col("into")
    )
    # 3. The other clusters get new ids.
    fresh = per_cluster.join(keeper, on="cluster_id", how="anti")
    fresh_ids = []
    for key in fresh["first_record"].to_list():
        candidate, n = new_person_id(run_id, key), 0
        while candidate in issued:  # never issue an id twice, however unlikely a collision
            n += 1
            candidate = new_person_id(f"{run_id}#{n}", key)
        issued.add(candidate)
        fresh_ids.append(candidate)
    fresh = fresh.with_columns(pl.Series("person_id", fresh_ids, dtype=pl.String))
    cluster_ids = pl.concat([keeper, fresh.select("cluster_id", "person_id")])
    mapping = clusters.join(cluster_ids, on="cluster_id").select("record_key", "person_id")

    def event(kind: str, person_id: str, related: str | None, keys: list[str], evidence: str) -> dict:
        return dict(run_id=run_id, recorded_at=recorded_at, event=kind, person_id=person_id,
                    related_person_id=related, records=len(keys), record_keys=" ".join(sorted(keys)),
                    evidence=evidence)

    had_id = fresh.select("cluster_id", pl.col("person_id").alias("new_id")).join(
        overlap.select("cluster_id", "person_id", "shared"), on="cluster_id")
    split_from = (
        had_id.join(age, on="person_id", how="left")
        .sort(["cluster_id", "shared", "created_at", "person_id"], descending=[False, True, False, False],
              nulls_last=False)
        .group_by("cluster_id", maintain_order=True).first()
    )
    events: list[dict] = []
    created = fresh.join(split_from.select("cluster_id"), on="cluster_id", how="anti")
    created_events = created.select(
        pl.lit(run_id).alias("run_id"), pl.lit(recorded_at).cast(EVENT_SCHEMA["recorded_at"]).alias("recorded_at"),
        pl.lit("created").alias("event"), "person_id", pl.lit(None, pl.String).alias("related_person_id"),
        pl.col("records").cast(pl.Int64), "record_keys",
        pl.lit("records not linked to any published person").alias("evidence"),
    )

    previous_keys = previous.group_by("person_id").agg(pl.col("record_key"))
    previous_of = dict(previous_keys.iter_rows())
    tonight_of = dict(clusters.join(cluster_ids, on="cluster_id").group_by("person_id").agg(pl.col("record_key")).iter_rows())
    explained: set[tuple[str, str]] = set()  # (previous id, new id) of records a merge or split moved

    for row in split_from.select(pl.col("new_id").alias("person_id"), pl.col("person_id").alias("origin")).iter_rows(named=True):
        moved = sorted(set(tonight_of[row["person_id"]]) & set(previous_of[row["origin"]]))
        pairs = _crossing(dropped_pairs, moved, previous_of[row["origin"]]) or _crossing(dropped_pairs, moved, None)
        evidence = "; ".join(map(_pair_text, pairs)) or f"no pair joins these records to {row['origin']} any more"
        events.append(event("split", row["person_id"], row["origin"], moved, evidence))
        explained.add((row["origin"], row["person_id"]))
    for row in merged.iter_rows(named=True):
        keys = sorted(set(previous_of[row["person_id"]]) & set(tonight_of[row["into"]]))
        pairs = _crossing(edges, keys, None)
        evidence = "; ".join(map(_pair_text, pairs)) or f"records now linked with {row['into']}"
        events.append(event("merged", row["person_id"], row["into"], keys, evidence))
        explained.add((row["person_id"], row["into"]))
    # 4. Ids with no record left.
    for person_id in sorted(set(previous_of) - set(home["person_id"].to_list())):
        events.append(event("retired", person_id, None, previous_of[person_id],
                            "none of its records is in the newest deliveries"))
    # 5. Records that changed id in no merge or split.
    changed = (
        previous.join(mapping.rename({"person_id": "new_id"}), on="record_key")
        .filter(pl.col("person_id") != pl.col("new_id"))
        .group_by("person_id", "new_id").agg(pl.col("record_key")).sort("person_id", "new_id")
    )
    for old_id, new_id, keys in changed.iter_rows():
        if (old_id, new_id) in explained:
            continue
        pairs = _crossing(dropped_pairs, keys, None) + _crossing(edges, keys, tonight_of[new_id])
        evidence = "; ".join(map(_pair_text, pairs)) or f"records now linked with {new_id}"
        events.append(event("moved", new_id, old_id, keys, evidence))

    others = pl.DataFrame(events, schema=EVENT_SCHEMA)
    all_events = pl.concat([created_events.cast(EVENT_SCHEMA), others]).sort("event", "person_id")
    return mapping, all_events
