"""Clusters of what changed. Every step of clustering works on one connected component at a time
(the components of the pairs at the cluster threshold and the must-links), with that component's
records, edges and constraints only:

1. connected components (Splink's clustering);
2. the conflict scoring inside each component of three or more records (conflicts.py);
3. the split rules for a component above the size limit or holding a cannot-link (constraints.py).

So a component whose records, edges and constraints are all last night's ends as last night's
clusters did. On an incremental night (the same model, hence the same rules) only the records of
the other components are clustered again:

- the seeds: the new, changed and deleted records (`linkage.record_changes`), the other record of
  every pair at the cluster threshold with a new or changed record, both records of every
  must-link or cannot-link that was added or removed since the last clustering, and both records
  of every pair that a record whose capped blocking keys alone moved gained or lost
  (`linkage.rekeyed_pairs`: its other pairs are last night's, with last night's scores);
- and every record of a seed's component of last night (`linkage.components`).

No edge leaves that set. An edge between two unchanged records was scored last night with the
same score (the pairs of unchanged records are kept), so its records were in one component last
night; an edge with a new or changed record has a seed at both ends; a must-link that was there
last night joined one component then too. The clusters, components and split log of every other
record are kept. The result equals clustering every record (tested over generated nights and on
random graphs).

Everything is clustered again when linkage scored every pair tonight, when the clustering code or
its libraries changed (`clustering_fingerprint`), or when the last clustering did not cluster the
pairs that tonight's linkage built on (a run that stopped between the pairs and the clusters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from assets.fingerprint import code_fingerprint
from assets.linkage.backend import DUCKDB, LinkageBackend, release_splink
from assets.linkage.conflicts import within_cluster_conflicts
from assets.linkage.families import family_role_conflicts
from assets.linkage.constraints import ClusterConstraints, enforce_constraints
from assets.linkage.incremental import PAIR_KEYS, ordered_pair_keys
from assets.linkage.model import cluster
from assets.linkage.rules import LinkageRules

COMPONENTS = "linkage.components"
CONSTRAINTS = "linkage.cluster_constraints"
CLUSTER_STATE = "linkage.cluster_state"
# The records an incremental clustering did not keep (ClusterPlan.redo): what the person ids redo.
REDONE = "linkage.cluster_redo"
# What a cluster depends on besides its records, edges and constraints.
CLUSTERING_CODE = ("backend.py", "conflicts.py", "constraints.py", "incremental.py", "model.py", "recluster.py",
                   "sole_candidates.py", "twins.py")


@cache
def clustering_fingerprint() -> str:
    here = Path(__file__).parent
    return code_fingerprint([here / name for name in CLUSTERING_CODE], ("splink", "duckdb", "polars"))


@dataclass(frozen=True)
class Clustering:
    clusters: pl.DataFrame  # record_key, cluster_id
    components: pl.DataFrame  # record_key, component_id: the connected components before any split
    splits: pl.DataFrame  # cluster_id (of the component), records, parts, reason
    conflicts: pl.DataFrame  # record_key_l, record_key_r, match_probability
    role_conflicts: pl.DataFrame  # record_key_l, record_key_r: two roles in one DTSEN family (families.py)


def nik_contradicted(links: pl.DataFrame, niks: pl.DataFrame) -> pl.Series:
    """The record keys of the links (record_key_l, record_key_r) that a source or a reviewer states
    are one person although both records carry a valid NIK and the NIKs differ (niks: record_key,
    nik). One of the two NIKs is someone else's (a case filed under a relative's NIK and birth
    date, naming the worker's placement), and which one is unknown, so the model's scores of such
    a record against others say nothing of two people: it gets no model cannot-link (at 200,000
    heavy, 27 of 821 stated links). Otherwise the case, holding the placement it names, scores as
    another person against the worker's other placements (the real NIK and date), and the split
    cuts the worker's own records apart."""
    keyed = niks.select("record_key", "nik").filter(pl.col("nik").is_not_null())
    both = (links.select("record_key_l", "record_key_r")
            .join(keyed.rename({"record_key": "record_key_l", "nik": "nik_l"}), on="record_key_l")
            .join(keyed.rename({"record_key": "record_key_r", "nik": "nik_r"}), on="record_key_r")
            .filter(pl.col("nik_l") != pl.col("nik_r")))
    return pl.concat([both["record_key_l"], both["record_key_r"]]).unique().sort()


def conflict_exempt_records(stated: pl.DataFrame, links: pl.DataFrame, niks: pl.DataFrame) -> pl.Series:
    """The records that get no model cannot-link: those of `nik_contradicted(links, niks)`, and
    every case that names its placement (`stated`: staging.stated_links, the case left). Such a
    case is the worker its placement is; its own name, age and free-text region are the weakest
    values in the data, so its scores against the worker's other records say little of two people
    (SAIFUL, a case from region 6303, named a placement whose NIK his DTSEN row in 3279 carries:
    the split kept the case with its placement and cut the DTSEN row off). At 200,000 heavy-noise
    persons 11 true pairs more and no false one; 50,000 unchanged."""
    return pl.concat([nik_contradicted(links, niks), stated["record_key_l"]]).unique().sort()


def cluster_people(records: pl.DataFrame, edges: pl.DataFrame, must_links: pl.DataFrame,
                   reviewer_cannot_links: frozenset[tuple[str, str]], linkage_records, model_json: dict,
                   tf_tables: dict[str, pl.DataFrame], rules: LinkageRules,
                   backend: LinkageBackend = DUCKDB, conflict_exempt: pl.Series | None = None,
                   scored: pl.DataFrame | None = None) -> Clustering:
    """records: record_key of the records to cluster; edges: their pairs and must-links
    (model.cluster_edges); linkage_records: a callable giving the LINKAGE_COLUMNS and
    FAMILY_COLUMNS of the records of a frame of record keys (the conflict scoring reads the
    records of multi-record components only); conflict_exempt: record keys that get no model
    cannot-link (conflict_exempt_records); scored: the pairs the model scored tonight, with their
    probability, which the conflict scoring need not score again (within_cluster_conflicts). Two
    roles in one DTSEN family inside a component are a cannot-link too (families.py)."""
    components = cluster(records, edges, rules.cluster_threshold, backend)
    release_splink(records.height + edges.height)
    # Pairs inside a component that the model scores as two people, unless a source or a
    # reviewer says they are one.
    sizes = components.group_by("cluster_id").len("size")
    multi = components.join(sizes.filter(pl.col("size") >= 3), on="cluster_id", how="semi")
    conflicts = within_cluster_conflicts(
        linkage_records(multi.select("record_key")), multi, model_json, tf_tables, rules.cannot_link_below,
        rules.cannot_link_evidence_weight, rules.cannot_link_conditions, conflict_exempt, scored,
    ).join(must_links.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
    release_splink(multi.height)
    roles = family_role_conflicts(components, linkage_records, rules.family_roles).join(
        must_links.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
    model_cannot_links = frozenset(conflicts.select(PAIR_KEYS).iter_rows()) | frozenset(roles.iter_rows())
    clusters, splits = enforce_constraints(
        components, edges,
        ClusterConstraints(rules.max_cluster_size, rules.stricter_thresholds,
                           reviewer_cannot_links | model_cannot_links),
    )
    # In no particular order: every reader joins or groups on the keys. Sorting the two 1.3M-row
    # frames by record key took 0.9 s at 1M persons.
    return Clustering(
        clusters=clusters.select("record_key", pl.col("cluster_id").cast(pl.String)),
        components=components.select("record_key", pl.col("cluster_id").cast(pl.String).alias("component_id")),
        splits=splits, conflicts=conflicts, role_conflicts=roles,
    )


def constraint_table(must_links: pl.DataFrame, cannot_links: frozenset[tuple[str, str]]) -> pl.DataFrame:
    """Every must-link and cannot-link of tonight, smaller key left: what the next night compares
    its own with."""
    cannot = pl.DataFrame(list(cannot_links), schema={k: pl.String for k in PAIR_KEYS}, orient="row")
    cannot = cannot.with_columns(pl.lit("cannot"))
    both = pl.concat([must_links.select(*PAIR_KEYS, pl.lit("must")), cannot]).rename({"literal": "kind"})
    return both.select(*ordered_pair_keys(), "kind").unique().sort(both.columns)


@dataclass(frozen=True)
class ClusterPlan:
    full: bool
    reason: str
    # Last night's records whose rows are not kept (the seeds' components, and the deleted records):
    # tonight's records among them are clustered again.
    redo: pl.Series | None = None


def components_in(components: pl.DataFrame) -> Callable[[pl.Series], pl.Series]:
    """`plan_clustering`'s `components_of` over a frame of last night's components (record_key,
    component_id)."""
    def of(seeds: pl.Series) -> pl.Series:
        theirs = components.filter(pl.col("record_key").is_in(seeds.implode()))["component_id"]
        return components.filter(pl.col("component_id").is_in(theirs.implode()))["record_key"]
    return of


def plan_clustering(previous_state: dict | None, linkage_state: dict, changes: pl.DataFrame,
                    strong_pairs: pl.DataFrame, constraints: pl.DataFrame,
                    previous_constraints: pl.DataFrame | None,
                    components_of: Callable[[pl.Series], pl.Series] | None,
                    pair_changes: pl.DataFrame | None = None) -> ClusterPlan:
    """previous_state: last clustering's row of CLUSTER_STATE; linkage_state: tonight's
    `linkage.state`; changes: `linkage.record_changes`; strong_pairs: tonight's pairs at the
    cluster threshold (record keys); components_of: the records of last night's components that
    hold any of the given records (None: no components were kept); pair_changes: the pairs
    (record keys) that records whose keys alone moved gained or lost (`linkage.rekeyed_pairs`)."""
    if linkage_state["mode"] != "incremental":
        return ClusterPlan(True, "linkage scored every pair tonight")
    if previous_state is None or previous_constraints is None or components_of is None:
        return ClusterPlan(True, "no previous clustering")
    if previous_state["fingerprint"] != clustering_fingerprint():
        return ClusterPlan(True, "the clustering code changed")
    if previous_state["pairs_run_id"] != linkage_state["previous_run_id"] or (
            previous_state["model_id"] != linkage_state["model_id"]):
        return ClusterPlan(True, "the last clustering did not cluster the pairs tonight's linkage built on")
    touched = changes.filter(pl.col("change") != "deleted")["record_key"].implode()
    partners = pl.concat([
        strong_pairs.filter(pl.col("record_key_l").is_in(touched))["record_key_r"],
        strong_pairs.filter(pl.col("record_key_r").is_in(touched))["record_key_l"],
    ])
    moved = pl.concat([constraints.join(previous_constraints, on=[*PAIR_KEYS, "kind"], how="anti"),
                       previous_constraints.join(constraints, on=[*PAIR_KEYS, "kind"], how="anti")])
    regained = pair_changes if pair_changes is not None else pl.DataFrame(schema={k: pl.String for k in PAIR_KEYS})
    seeds = pl.concat([changes["record_key"], partners, moved["record_key_l"], moved["record_key_r"],
                       regained["record_key_l"], regained["record_key_r"]]).unique()
    redo = pl.concat([seeds, components_of(seeds)]).unique().sort()
    return ClusterPlan(False, "unchanged components kept", redo)


def crossing_edges(edges: pl.DataFrame, redo: pl.Series, threshold: float) -> int:
    """Edges at the cluster threshold with one record to cluster again and one kept: none, by the
    argument above; a nonzero count means a kept cluster could be wrong."""
    strong = edges.filter(pl.col("match_probability") >= threshold)
    inside = redo.implode()
    return strong.filter(pl.col("record_key_l").is_in(inside) != pl.col("record_key_r").is_in(inside)).height

