"""Clusters that must not stand: ones above the configured size (a chain of weak links, the
classic failure of connected components) and ones holding both records of a cannot-link (a
reviewer's non-match, or a pair the model itself scores as two people, see
assets/linkage/conflicts.py). Such a cluster is split by one documented rule:

1. above the size limit: drop every edge below the next, stricter threshold
   (`stricter_thresholds` in `linkage_rules/model.yaml`) and recompute its components; repeat
   with the next threshold while a part is still too large; a part still too large after the
   strictest threshold keeps only its must-links (the links the sources state and the reviewers'
   matches): every other record stands alone;
2. holding a cannot-link pair: constrained single linkage. The cluster's edges are taken from the
   strongest down (must-links first), and each joins its two groups unless that would put a
   cannot-link pair in one group. The two people end up apart, each record with the side it is
   most strongly linked to, and only the weakest links between the two sides are given up.

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


def _constrained_linkage(keys: list[str], edges: list[tuple[str, str, float]],
                         cannot: dict[str, set[str]]) -> list[list[str]]:
    """Rule 2: groups built from the strongest edge down, never joining a cannot-link pair."""
    parent = {k: k for k in keys}
    members = {k: {k} for k in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, _ in sorted(edges, key=lambda edge: (-edge[2], edge[0], edge[1])):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        small, big = (ra, rb) if len(members[ra]) <= len(members[rb]) else (rb, ra)
        if any(cannot.get(m, set()) & members[big] for m in members[small]):
            continue
        parent[small] = big
        members[big] |= members.pop(small)
    return sorted((sorted(g) for g in members.values()), key=lambda g: g[0])


def enforce_constraints(
    clusters: pl.DataFrame, edges: pl.DataFrame, constraints: ClusterConstraints
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """clusters: record_key, cluster_id. edges: record_key_l, record_key_r, match_probability
    (must-links carry 1.0). Returns the clusters with violating ones split (new cluster ids are
    the smallest record key of each part) and a log of the splits (cluster, records, parts,
    reason): no personal values."""
    cannot_pairs = {_pair(a, b) for a, b in constraints.cannot_links}
    candidates = _violating(clusters, cannot_pairs, constraints.max_cluster_size)
    log_schema = {"cluster_id": pl.String, "records": pl.Int64, "parts": pl.Int64, "reason": pl.String}
    if not candidates:
        return clusters, pl.DataFrame(schema=log_schema)
    cannot: dict[str, set[str]] = {}
    for a, b in cannot_pairs:
        cannot.setdefault(a, set()).add(b)
        cannot.setdefault(b, set()).add(a)
    # Each violating cluster's own edges, found by one join rather than a scan per cluster.
    cluster_of = pl.DataFrame(
        [(k, str(cid)) for cid, keys in candidates for k in keys],
        schema={"record_key": pl.String, "candidate": pl.String}, orient="row",
    )
    inside = (
        edges.select("record_key_l", "record_key_r", "match_probability")
        .join(cluster_of.rename({"record_key": "record_key_l"}), on="record_key_l")
        .join(cluster_of.rename({"record_key": "record_key_r", "candidate": "candidate_r"}), on="record_key_r")
        .filter(pl.col("candidate") == pl.col("candidate_r"))
    )
    edges_of: dict[str, list[tuple[str, str, float]]] = {}
    for a, b, p, cid, _ in inside.iter_rows():
        if _pair(a, b) not in cannot_pairs:
            edges_of.setdefault(cid, []).append((a, b, p))
    reassigned: dict[str, str] = {}
    log = []
    for cid, keys in candidates:
        cluster_edges = edges_of.get(str(cid), [])
        too_large = len(keys) > constraints.max_cluster_size
        reason = "larger than %d records" % constraints.max_cluster_size if too_large else "holds a cannot-link pair"
        if too_large:
            pending = [keys]
            for threshold in constraints.stricter_thresholds:
                next_pending = []
                for group in pending:
                    for part in _components(group, _within(group, cluster_edges, threshold)):
                        if len(part) > constraints.max_cluster_size:
                            next_pending.append(part)
                        else:
                            _finish(part, reassigned, cluster_edges, cannot)
                pending = next_pending
                if not pending:
                    break
            # Still too large after the strictest threshold: only the must-links hold.
            for group in pending:
                for part in _components(group, _within(group, cluster_edges, 1.0)):
                    _finish(part, reassigned, cluster_edges, cannot)
        else:
            _finish(keys, reassigned, cluster_edges, cannot)
        parts = len({reassigned[k] for k in keys})
        log.append({"cluster_id": str(cid), "records": len(keys), "parts": parts, "reason": reason})
    out = clusters.with_columns(pl.col("cluster_id").cast(pl.String)).with_columns(
        pl.col("record_key").replace_strict(reassigned, default=pl.col("cluster_id")).alias("cluster_id")
    )
    return out, pl.DataFrame(log, schema=log_schema)


def _violating(clusters: pl.DataFrame, cannot_pairs: set[tuple[str, str]],
               max_cluster_size: int) -> list[tuple[object, list[str]]]:
    """(cluster id, sorted record keys) of every cluster above the size limit or holding both
    records of a cannot-link pair, found by joins: a scan of every cannot-link per cluster took
    longer than the whole 10M-record night's prediction."""
    sizes = clusters.group_by("cluster_id").len("size")
    oversized = sizes.filter(pl.col("size") > max_cluster_size).select("cluster_id")
    cannot = pl.DataFrame(list(cannot_pairs), schema={"a": pl.String, "b": pl.String}, orient="row")
    keyed = clusters.select(pl.col("record_key").cast(pl.String), "cluster_id")
    holding = (
        cannot.join(keyed.rename({"record_key": "a"}), on="a")
        .join(keyed.rename({"record_key": "b", "cluster_id": "cluster_b"}), on="b")
        .filter(pl.col("cluster_id") == pl.col("cluster_b"))
        .select("cluster_id")
    )
    violating = pl.concat([oversized, holding]).unique()
    members = (
        clusters.join(violating, on="cluster_id", how="semi")
        .group_by("cluster_id").agg(pl.col("record_key").sort())
        .sort("cluster_id")
    )
    return list(members.iter_rows())


def _within(group: list[str], edges: list[tuple[str, str, float]], threshold: float) -> list[tuple[str, str]]:
    members = set(group)
    return [(a, b) for a, b, p in edges if p >= threshold and a in members and b in members]


def _finish(part: list[str], reassigned: dict[str, str], edges: list[tuple[str, str, float]],
            cannot: dict[str, set[str]]) -> None:
    """A part that holds no cannot-link pair is one person; one that does is split by rule 2."""
    members = set(part)
    if not any(cannot.get(k, set()) & members for k in part):
        _done(part, reassigned)
        return
    inside = [(a, b, p) for a, b, p in edges if a in members and b in members]
    for piece in _constrained_linkage(part, inside, cannot):
        _done(piece, reassigned)


def _done(part: list[str], reassigned: dict[str, str]) -> None:
    for key in part:
        reassigned[key] = part[0]
