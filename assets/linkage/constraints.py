"""Clusters that must not stand: ones above the configured size (a chain of weak links, the
classic failure of connected components) and ones holding both records of a cannot-link (a
reviewer's non-match). Such a cluster is split by one documented rule:

1. drop the cannot-link edges themselves, and every edge below the next, stricter threshold
   (`stricter_thresholds` in `linkage_rules/model.yaml`), and recompute its components;
2. repeat with the next threshold while a part still violates;
3. a part that still violates after the strictest threshold keeps only its must-links (the
   links the sources state and the reviewers' matches): every other record stands alone.

Only violating clusters are touched; every other cluster is kept as it is."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class ClusterConstraints:
    max_cluster_size: int
    stricter_thresholds: tuple[float, ...]
    cannot_links: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _components(nodes: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _violates(group: list[str], constraints: ClusterConstraints) -> bool:
    if len(group) > constraints.max_cluster_size:
        return True
    if not constraints.cannot_links or len(group) < 2:
        return False
    members = set(group)
    return any(a in members and b in members for a, b in constraints.cannot_links)


def enforce_constraints(
    clusters: pl.DataFrame, edges: pl.DataFrame, constraints: ClusterConstraints
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """clusters: record_key, cluster_id. edges: record_key_l, record_key_r, match_probability
    (must-links carry 1.0). Returns the clusters with violating ones split (new cluster ids are
    the smallest record key of each part) and a log of the splits (cluster, records, parts,
    reason): no personal values."""
    members = clusters.group_by("cluster_id").agg(pl.col("record_key").sort())
    cannot = {_pair(a, b) for a, b in constraints.cannot_links}
    constraints = ClusterConstraints(constraints.max_cluster_size, constraints.stricter_thresholds,
                                     frozenset(cannot))
    candidates = [
        (cid, keys) for cid, keys in members.iter_rows()
        if _violates(keys, constraints)
    ]
    log_schema = {"cluster_id": pl.String, "records": pl.Int64, "parts": pl.Int64, "reason": pl.String}
    if not candidates:
        return clusters, pl.DataFrame(schema=log_schema)
    involved = {k for _, keys in candidates for k in keys}
    edge_rows = edges.filter(pl.col("record_key_l").is_in(involved) & pl.col("record_key_r").is_in(involved))
    by_pair = {
        _pair(a, b): p for a, b, p in edge_rows.select("record_key_l", "record_key_r", "match_probability").iter_rows()
    }
    reassigned: dict[str, str] = {}
    log = []
    for cid, keys in candidates:
        reason = "larger than %d records" % constraints.max_cluster_size \
            if len(keys) > constraints.max_cluster_size else "holds a cannot-link pair"
        pending = [keys]
        for threshold in constraints.stricter_thresholds:
            next_pending = []
            for group in pending:
                members_set = set(group)
                kept = [pair for pair, p in by_pair.items()
                        if p >= threshold and pair not in cannot and pair[0] in members_set and pair[1] in members_set]
                for part in _components(group, kept):
                    if _violates(part, constraints):
                        next_pending.append(part)
                    else:
                        _done(part, reassigned)
            pending = next_pending
            if not pending:
                break
        for group in pending:
            members_set = set(group)
            must = [pair for pair, p in by_pair.items()
                    if p >= 1.0 and pair not in cannot and pair[0] in members_set and pair[1] in members_set]
            for part in _components(group, must):
                _done(part, reassigned)
        parts = len({reassigned[k] for k in keys})
        log.append({"cluster_id": str(cid), "records": len(keys), "parts": parts, "reason": reason})
    out = clusters.with_columns(pl.col("cluster_id").cast(pl.String)).with_columns(
        pl.col("record_key").replace_strict(reassigned, default=pl.col("cluster_id")).alias("cluster_id")
    )
    return out, pl.DataFrame(log, schema=log_schema)


def _done(part: list[str], reassigned: dict[str, str]) -> None:
    for key in part:
        reassigned[key] = part[0]
