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

from assets.frames import query_frames

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


def _record_keys(clusters: pl.DataFrame, created: pl.DataFrame) -> pl.DataFrame:
    """cluster_id, record_keys of the `created` clusters (cluster_id, first_record, records): each
    cluster's record keys in order, space-separated. A cluster of one record (825,620 of 1,032,233
    at 1M persons) is its first record; only the others are gathered from `clusters` (joining
    every cluster's keys took 2.4 s; taken from the first record, a first night's id assignment
    took 2.0 s against 2.2 s when every created cluster was joined to its records)."""
    several = created.filter(pl.col("records") > 1).select("cluster_id")
    gathered = clusters.join(several, on="cluster_id").group_by("cluster_id").agg(
        pl.col("record_key").sort().str.join(" ").alias("record_keys"))
    return pl.concat([
        created.filter(pl.col("records") == 1).select("cluster_id", pl.col("first_record").alias("record_keys")),
        gathered,
    ])


def _fresh_ids(run_id: str, first_records: pl.Series, issued: pl.Series) -> list[str]:
    """`new_person_id` of each first record, hashed in DuckDB (a first night issues a million: 2.2 s
    one by one in Python); an id already issued, or issued twice tonight, is hashed again in
    Python with a counter until it is new, so that no id is ever issued twice."""
    hashed = query_frames("SELECT 'P' || upper(sha256(? || '|' || key)[1:16]) AS id FROM __first",
                          {"__first": pl.DataFrame({"key": first_records})}, params=[run_id])["id"]
    ids = hashed.to_list()
    # The issued ids among tonight's, looked up the small way round: a set of the million issued
    # ids took 0.15 s to build, the few thousand of tonight's 0.01 s.
    clashing = issued.filter(issued.is_in(hashed.implode()))
    taken = ~hashed.is_first_distinct() | hashed.is_in(clashing.implode())
    if taken.any():  # never issue an id twice, however unlikely a collision
        tonight = set(hashed.filter(~taken).to_list())
        issued = set(issued.to_list())
        keys = first_records.to_list()
        for i in taken.arg_true().to_list():
            candidate, n = ids[i], 0
            while candidate in issued or candidate in tonight:
                n += 1
                candidate = new_person_id(f"{run_id}#{n}", keys[i])
            tonight.add(candidate)
            ids[i] = candidate
    return ids


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


def _pair_sides(edges: pl.DataFrame, dropped: pl.DataFrame, previous: pl.DataFrame,
                mapping: pl.DataFrame) -> pl.DataFrame:
    """Every joining pair of tonight and every pair that stopped joining, once from each side `x`
    with the other side `y`, each side with its previous and its new id."""
    frames = [
        edges.select("record_key_l", "record_key_r", "match_weight",
                     pl.lit(None, pl.Float64).alias("previous_match_weight"), pl.lit(False).alias("dropped")),
        dropped.select("record_key_l", "record_key_r", pl.col("match_weight").cast(pl.Float64),
                       pl.col("previous_match_weight").cast(pl.Float64), pl.lit(True).alias("dropped")),
    ]
    pairs = pl.concat(frames)
    ids = previous.rename({"person_id": "old"}).join(mapping.rename({"person_id": "new"}), on="record_key", how="full",
                                                     coalesce=True)
    pairs = (
        pairs.join(ids.rename({"record_key": "record_key_l", "old": "old_l", "new": "new_l"}), on="record_key_l", how="left")
        .join(ids.rename({"record_key": "record_key_r", "old": "old_r", "new": "new_r"}), on="record_key_r", how="left")
    )
    common = ["record_key_l", "record_key_r", "match_weight", "previous_match_weight", "dropped"]
    return pl.concat([
        pairs.select(*common, pl.col("old_l").alias("x_old"), pl.col("new_l").alias("x_new"),
                     pl.col("old_r").alias("y_old"), pl.col("new_r").alias("y_new")),
        pairs.select(*common, pl.col("old_r").alias("x_old"), pl.col("new_r").alias("x_new"),
                     pl.col("old_l").alias("y_old"), pl.col("new_l").alias("y_new")),
    ])


def _evidence(sides: pl.DataFrame, transitions: pl.DataFrame, kind: str) -> dict[tuple[str, str], str]:
    """(x_old, x_new) -> the strongest pairs behind records going from id x_old to id x_new.
    merged: tonight's pairs from those records to records that had another id (or none);
    split/moved: last night's pairs to the rest of x_old that no longer join, then (moved) tonight's
    pairs to the records of x_new."""
    if transitions.is_empty():
        return {}
    hits = sides.join(transitions, on=["x_old", "x_new"], how="semi")
    differs = pl.col("y_old").is_null() | (pl.col("y_old") != pl.col("x_old"))
    if kind == "merged":
        hits = hits.filter(~pl.col("dropped") & differs).with_columns(pl.lit(0).alias("rank"))
        weight = pl.col("match_weight")
    else:
        hits = hits.filter(pl.col("dropped") | ((pl.col("y_new") == pl.col("x_new")) & differs)).with_columns(
            pl.when(pl.col("dropped") & (pl.col("y_old") == pl.col("x_old"))).then(0)
            .when(pl.col("dropped")).then(1).otherwise(2).alias("rank"))
        weight = pl.coalesce("previous_match_weight", "match_weight")
    top = (
        hits.unique(["x_old", "x_new", "record_key_l", "record_key_r", "dropped"])
        .sort(["x_old", "x_new", "rank", weight.fill_null(float("inf")).alias("w"), "record_key_l", "record_key_r"],
              descending=[False, False, False, True, False, False])
        .group_by("x_old", "x_new", maintain_order=True).head(EVIDENCE_PAIRS)
    )
    out: dict[tuple[str, str], list[str]] = {}
    for row in top.iter_rows(named=True):
        out.setdefault((row["x_old"], row["x_new"]), []).append(_pair_text(row))
    return {key: "; ".join(texts) for key, texts in out.items()}


def unchanged_persons(clusters: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """cluster_id, person_id of tonight's clusters that are exactly a previous person: the same
    records, all of which had that id. Most clusters of a night are; each keeps its id with no event,
    and no other cluster or previous id has anything to do with it (its records had no other id,
    and its id no other record)."""
    sizes = previous.group_by("person_id").len("previous_records")
    return (
        clusters.join(previous, on="record_key", how="left")
        .group_by("cluster_id")
        .agg(pl.len().alias("records"), pl.col("person_id").n_unique().alias("ids"),
             pl.col("person_id").null_count().alias("without_id"), pl.col("person_id").first())
        .filter((pl.col("ids") == 1) & (pl.col("without_id") == 0))
        .join(sizes, on="person_id")
        .filter(pl.col("records") == pl.col("previous_records"))
        .select("cluster_id", "person_id")
    )


def assign_stable_person_ids(
    clusters: pl.DataFrame,
    previous: pl.DataFrame | None,
    run_id: str,
    *,
    ages: pl.DataFrame | None = None,
    edges: pl.DataFrame | None = None,
    dropped_pairs: pl.DataFrame | None = None,
    issued_ids: pl.Series | set[str] | None = None,
    recorded_at: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """clusters: record_key, cluster_id. previous: record_key, person_id (last published).
    ages: person_id, created_at (`id_ages`); an id without one counts as oldest.
    edges: tonight's joining pairs (record_key_l, record_key_r, match_weight; null weight for a
    stated link). dropped_pairs: last night's joining pairs that no longer join
    (record_key_l, record_key_r, previous_match_weight, match_weight).
    Returns (record_key, person_id) and the events of this run.

    The clusters that are exactly a previous person keep its id (`unchanged_persons`); the rules
    run on the others only, with the previous ids that are not kept so (on a night of 1% changes
    at 1M persons, the rules' joins and groupings over every record took 7.9 s)."""
    if previous is None or previous.is_empty():
        return _assign(clusters, previous, run_id, ages, edges, dropped_pairs, issued_ids, recorded_at)
    clusters = clusters.with_columns(pl.col("cluster_id").cast(pl.String))
    kept = unchanged_persons(clusters, previous)
    rest = clusters.join(kept, on="cluster_id", how="anti")
    mapping, events = _assign(
        rest, previous.join(kept, on="person_id", how="anti"), run_id, ages, edges, dropped_pairs,
        # every id ever issued, the kept ones too: a new id is never one of them
        pl.concat([_series(issued_ids), kept["person_id"]]), recorded_at,
    )
    kept_mapping = clusters.join(kept, on="cluster_id").select("record_key", "person_id")
    return pl.concat([kept_mapping, mapping]), events


def _series(ids: pl.Series | set[str] | None) -> pl.Series:
    return (ids if isinstance(ids, pl.Series) else pl.Series(list(ids or ()), dtype=pl.String)).cast(pl.String)


def _assign(
    clusters: pl.DataFrame, previous: pl.DataFrame | None, run_id: str, ages: pl.DataFrame | None,
    edges: pl.DataFrame | None, dropped_pairs: pl.DataFrame | None, issued_ids: pl.Series | set[str] | None,
    recorded_at: datetime | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The id rules (docs/status_and_ids.md) over every cluster and previous id given."""
    recorded_at = recorded_at or datetime.now(timezone.utc)
    if previous is None:
        previous = pl.DataFrame(schema={"record_key": pl.String, "person_id": pl.String})
    pair_schema = {"record_key_l": pl.String, "record_key_r": pl.String, "match_weight": pl.Float64}
    edges = edges if edges is not None else pl.DataFrame(schema=pair_schema)
    dropped_pairs = dropped_pairs if dropped_pairs is not None else pl.DataFrame(
        schema={**pair_schema, "previous_match_weight": pl.Float64})
    # Every id ever issued, as a column: a Python set of a million ids took a second to build.
    issued = pl.concat([_series(issued_ids), previous["person_id"]]).cast(pl.String).rename("person_id")

    clusters = clusters.with_columns(pl.col("cluster_id").cast(pl.String))
    per_cluster = clusters.group_by("cluster_id").agg(
        pl.col("record_key").min().alias("first_record"), pl.len().alias("records"),
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
    fresh = fresh.with_columns(pl.Series("person_id", _fresh_ids(run_id, fresh["first_record"], issued), dtype=pl.String))
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
    created = created.join(_record_keys(clusters, created), on="cluster_id", how="left")
    created_events = created.select(
        pl.lit(run_id).alias("run_id"), pl.lit(recorded_at).cast(EVENT_SCHEMA["recorded_at"]).alias("recorded_at"),
        pl.lit("created").alias("event"), "person_id", pl.lit(None, pl.String).alias("related_person_id"),
        pl.col("records").cast(pl.Int64), "record_keys",
        pl.lit("records not linked to any published person").alias("evidence"),
    )

    # Records by (previous id, new id): every id change of a record is one of these transitions.
    moves = (
        previous.join(mapping.rename({"person_id": "new_id"}), on="record_key")
        .filter(pl.col("person_id") != pl.col("new_id"))
        .group_by("person_id", "new_id").agg(pl.col("record_key").sort())
    )
    moved_keys = {(old, new): keys for old, new, keys in moves.iter_rows()}
    sides = _pair_sides(edges, dropped_pairs, previous, mapping)
    explained: set[tuple[str, str]] = set()  # (previous id, new id) of records a merge or split moved

    splits = split_from.select(pl.col("person_id").alias("origin"), "new_id")
    split_evidence = _evidence(sides, splits.rename({"origin": "x_old", "new_id": "x_new"}), "split")
    for origin, new_id in splits.iter_rows():
        evidence = split_evidence.get((origin, new_id)) or f"no pair joins these records to {origin} any more"
        events.append(event("split", new_id, origin, moved_keys.get((origin, new_id), []), evidence))
        explained.add((origin, new_id))
    merges = merged.select("person_id", "into")
    merge_evidence = _evidence(sides, merges.rename({"person_id": "x_old", "into": "x_new"}), "merged")
    for lost, into in merges.iter_rows():
        evidence = merge_evidence.get((lost, into)) or f"records now linked with {into}"
        events.append(event("merged", lost, into, moved_keys.get((lost, into), []), evidence))
        explained.add((lost, into))
    # 4. Ids with no record left.
    retired = previous.join(home.select("person_id"), on="person_id", how="anti")
    for person_id, keys in retired.group_by("person_id").agg(pl.col("record_key")).sort("person_id").iter_rows():
        events.append(event("retired", person_id, None, keys, "none of its records is in the newest deliveries"))
    # 5. Records that changed id in no merge or split.
    other = moves.select(pl.col("person_id").alias("x_old"), pl.col("new_id").alias("x_new")).filter(
        ~pl.struct("x_old", "x_new").is_in(
            pl.DataFrame(list(explained) or None, schema={"x_old": pl.String, "x_new": pl.String}, orient="row")
            .to_struct().implode()
        )
    )
    move_evidence = _evidence(sides, other, "moved")
    for old_id, new_id in other.sort("x_old", "x_new").iter_rows():
        evidence = move_evidence.get((old_id, new_id)) or f"records now linked with {new_id}"
        events.append(event("moved", new_id, old_id, moved_keys[(old_id, new_id)], evidence))

    # By event, then person id: "created" sorts before every other event, and the created events
    # (all of them on a first night) are sorted on the id alone (1M: 0.3 s, against 0.5 s for both).
    others = pl.DataFrame(events, schema=EVENT_SCHEMA).sort("event", "person_id")
    return mapping, pl.concat([created_events.cast(EVENT_SCHEMA).sort("person_id"), others])
