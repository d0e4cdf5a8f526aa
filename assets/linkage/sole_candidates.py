"""Sole candidates: two records of different sources that are each other's only candidate.

A record that the model pairs with exactly one other record at the prediction threshold, which in
turn is paired with nothing else, is a pair the model finds likely but the cluster threshold holds
back: a case record with a name, a sex and a regency against the one DTSEN record of that name
there; a placement whose NIK is missing against the one DTSEN record with its name and birth date.
Across sources such a pair is joined from a lower probability (`clustering.sole_candidate_min_probability`):
each source lists a person once or a few times, so a record whose only candidate in the whole
population is one record of another source, with no rival on either side, is that person far more
often than the probability alone says. Within one source it is not: two DTSEN records that are each
other's only candidate are mostly twins or siblings on one card, and stay apart.

Measured on the generator with its hardest noise (docs/linkage.md, "Sole candidates"): at 50,000
persons 47 such pairs at p >= 0.6, of which 46 are one person; at 200,000, 279 and 254.

Counted as candidates: every scored pair at the prediction threshold (`linkage.pairs`) and every
must-link (stated links, reviewers' matches). A reviewer's non-match is never joined. The pairs are
given to clustering as must-links: the clusters of what changed (recluster.py) see one appear or
go as a changed constraint, so an incremental night clusters its two records again, and both
nights agree."""

from __future__ import annotations

import polars as pl

from assets.linkage.model import source_of_key

REASON = "each other's sole candidate, different sources"
KEYS = ["record_key_l", "record_key_r"]


def _both_ways(pairs: pl.DataFrame) -> pl.DataFrame:
    swapped = pairs.select(pl.col("record_key_r").alias("record_key_l"), pl.col("record_key_l").alias("record_key_r"))
    return pl.concat([pairs, swapped])


def sole_candidate_links(pairs: pl.DataFrame, must_links: pl.DataFrame, cannot_links: frozenset[tuple[str, str]],
                         low: float, high: float) -> pl.DataFrame:
    """pairs: record_key_l, record_key_r, match_probability (every pair at the prediction
    threshold); must_links: record_key_l, record_key_r. Returns record_key_l, record_key_r,
    match_probability, reason of the pairs with low <= probability < high whose two records, of
    different sources, have no other candidate."""
    both_ways = _both_ways(pl.concat([pairs.select(KEYS), must_links.select(KEYS)]))
    # Distinct partners: a pair both scored and stated counts once.
    single = both_ways.unique().group_by("record_key_l").len("partners").filter(pl.col("partners") == 1)
    sole = (
        pairs.filter(pl.col("match_probability").is_between(low, high, closed="left"))
        .join(single.select("record_key_l"), on="record_key_l", how="semi")
        .join(single.select(pl.col("record_key_l").alias("record_key_r")), on="record_key_r", how="semi")
        .filter(source_of_key("record_key_l") != source_of_key("record_key_r"))
        .select(*KEYS, "match_probability", pl.lit(REASON).alias("reason"))
    )
    if cannot_links:
        refused = pl.DataFrame(list(cannot_links), schema={k: pl.String for k in KEYS}, orient="row")
        sole = sole.join(_both_ways(refused), on=KEYS, how="anti")
    return sole.sort(KEYS)
