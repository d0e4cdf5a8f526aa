"""Sole candidates: two records of different sources that are each other's only candidate, or
each other's best one by a clear margin.

A record that the model pairs with exactly one other record at the prediction threshold, which in
turn is paired with nothing else, is a pair the model finds likely but the cluster threshold holds
back: a case record with a name, a sex and a regency against the one DTSEN record of that name
there; a placement whose NIK is missing against the one DTSEN record with its name and birth date.
Across sources such a pair is joined from a lower probability (`clustering.sole_candidate_min_probability`):
each source lists a person once or a few times, so a record whose only candidate in the whole
population is one record of another source, with no rival on either side, is that person far more
often than the probability alone says. Within one source it is not: two DTSEN records that are each
other's only candidate are mostly twins or siblings on one card, and stay apart. A rival far behind
does not change that: each record's other candidates may score up to
`clustering.sole_candidate_runner_up_ratio` times the pair (a must-link counts as 1.0).

The same holds for a pair that scores at the cluster threshold but is held back from it because
one of its records has neither a NIK nor a birth date (`thresholds.thin_record_cluster_match_probability`,
model.held_back): it joins only as such a sole candidate.

Measured on the generator with its hardest noise (docs/linkage.md, "Sole candidates"): at 50,000
persons 47 such pairs at p >= 0.6, of which 46 are one person; at 200,000, 279 and 254.

A thin record whose every candidate is one person (its partners all tied to its best one) joins
that person from `thresholds.thin_record_lone_person_min_probability` (0.9), though the person's
own records count as rivals of a sole candidate (`lone_person_links`, since stop 32).

Counted as candidates: every scored pair at the prediction threshold (`linkage.pairs`) and every
must-link (stated links, reviewers' matches). A reviewer's non-match is never joined. The pairs are
given to clustering as must-links: the clusters of what changed (recluster.py) see one appear or
go as a changed constraint, so an incremental night clusters its two records again, and both
nights agree."""

from __future__ import annotations

import polars as pl

from assets.linkage.incremental import PAIR_KEYS as KEYS, ordered_pair_keys
from assets.linkage.model import source_of_key

REASON = "each other's clear best candidate, different sources"


def _both_ways(pairs: pl.DataFrame) -> pl.DataFrame:
    swapped = pairs.rename({"record_key_l": "record_key_r", "record_key_r": "record_key_l"})
    return pl.concat([pairs, swapped.select(pairs.columns)])


def sole_candidate_links(pairs: pl.DataFrame, must_links: pl.DataFrame, cannot_links: frozenset[tuple[str, str]],
                         low: float, high: float, runner_up_ratio: float = 0.0,
                         held_back: pl.Series | None = None) -> pl.DataFrame:
    """pairs: record_key_l, record_key_r, match_probability (every pair at the prediction
    threshold); must_links: record_key_l, record_key_r. Returns record_key_l, record_key_r,
    match_probability, reason of the pairs with low <= probability < high (or held back from the
    cluster threshold: `held_back`, one flag per pair, model.held_back), of records of different
    sources, where each record is the other's best candidate and every other candidate of either
    scores at most `runner_up_ratio` times the pair (0: none at all; a must-link counts as 1.0)."""
    p = pl.col("match_probability")
    band = p.is_between(low, high, closed="left")
    if held_back is not None:
        band = band | held_back
    within = (pairs.filter(band)
              .filter(source_of_key("record_key_l") != source_of_key("record_key_r")))
    # Only the records of those pairs are ranked, on all their candidates (at 1M, a few thousand
    # records of the 860,000 pair ends: sorting them all took 0.3 s).
    ends = pl.concat([within["record_key_l"], within["record_key_r"]]).unique().implode()
    ranked = _candidates_of(ends, pairs, must_links).sort("match_probability", descending=True).group_by("record_key_l").agg(
        pl.col("record_key_r").first().alias("best"),
        pl.col("match_probability").get(1, null_on_oob=True).fill_null(0.0).alias("runner_up"),
    )
    sole = (
        within
        .join(ranked.rename({"best": "best_l", "runner_up": "runner_up_l"}), on="record_key_l")
        .join(ranked.rename({"record_key_l": "record_key_r", "best": "best_r", "runner_up": "runner_up_r"}),
              on="record_key_r")
        .filter(pl.col("best_l") == pl.col("record_key_r"), pl.col("best_r") == pl.col("record_key_l"),
                pl.max_horizontal("runner_up_l", "runner_up_r") <= p * runner_up_ratio)
        .select(*KEYS, "match_probability", pl.lit(REASON).alias("reason"))
    )
    return _without(sole, cannot_links).sort(KEYS)


def _candidates_of(ends: pl.Series, pairs: pl.DataFrame, must_links: pl.DataFrame) -> pl.DataFrame:
    """record_key_l (one of `ends`, imploded keys), record_key_r, match_probability: every record
    paired with an end at the prediction threshold or must-linked to it (a must-link counts as
    1.0; a pair both scored and stated counts once, at its highest)."""
    candidates = pl.concat([
        pairs.select(*KEYS, "match_probability"),
        must_links.select(*KEYS, pl.lit(1.0).alias("match_probability")),
    ]).filter(pl.col("record_key_l").is_in(ends) | pl.col("record_key_r").is_in(ends))
    return (_both_ways(candidates).filter(pl.col("record_key_l").is_in(ends))
            .group_by(KEYS).agg(pl.col("match_probability").max()))


def _without(links: pl.DataFrame, cannot_links: frozenset[tuple[str, str]]) -> pl.DataFrame:
    """`links` less the pairs a cannot-link (a reviewer's non-match, twins) refuses."""
    if not cannot_links:
        return links
    refused = pl.DataFrame(list(cannot_links), schema={k: pl.String for k in KEYS}, orient="row")
    # The scored pairs hold the smaller key left (incremental._pairs_frame); so do these.
    return links.join(refused.select(ordered_pair_keys()), on=KEYS, how="anti")


LONE_PERSON_REASON = "a thin record's only candidate person"


def lone_person_links(pairs: pl.DataFrame, thin: pl.Series, must_links: pl.DataFrame,
                      cannot_links: frozenset[tuple[str, str]], low: float | None, high: float | None,
                      threshold: float, runner_up_ratio: float = 0.0) -> pl.DataFrame:
    """The pairs of a thin record (in `thin`: neither a NIK nor a birth date) with a record of
    another source, scoring from `low` up to `high` (the thin records' own cluster threshold,
    model.held_back), where the thin record has one candidate person only: every other record it
    is paired with at the prediction threshold (or must-linked to) is tied to its best partner by a
    pair at the cluster `threshold` or a must-link, or scores at most `runner_up_ratio` times the
    best (0: no such rival at all). The thin threshold guards against namesakes (a
    case's name, age and regency fit several people); a record whose every candidate is one person
    has no namesake to mistake. Other thin records are no candidates: two cases of one name say
    nothing about which person the name is. Within one source (a DTSEN row without a NIK or a date)
    a lone candidate is a father or a son of one name on one card: not joined. Returns
    record_key_l, record_key_r, match_probability, reason, like `sole_candidate_links`; none
    without `low` or `high`.

    Local to the thin record's own pairs, so an incremental night decides as a full one; the pairs
    are given to clustering as must-links, so a rival that appears or goes is a changed constraint
    and the records are clustered again."""
    empty = pl.DataFrame(schema={**{k: pl.String for k in KEYS}, "match_probability": pl.Float64, "reason": pl.String})
    if low is None or high is None:
        return empty
    is_thin = {side: pl.col(side).is_in(thin.implode()) for side in KEYS}
    band = (pairs.filter(pl.col("match_probability").is_between(low, high, closed="left"))
            .filter(is_thin["record_key_l"] != is_thin["record_key_r"],
                    source_of_key("record_key_l") != source_of_key("record_key_r")))
    if band.is_empty():
        return empty
    band_ends = pl.concat([band["record_key_l"], band["record_key_r"]]).unique()
    ends = band_ends.filter(band_ends.is_in(thin.implode())).implode()
    # Each thin record's candidates among the records that are not thin, the best first.
    candidates = (_candidates_of(ends, pairs, must_links).filter(~is_thin["record_key_r"])
                  .sort(["record_key_l", "match_probability", "record_key_r"], descending=[False, True, False]))
    best = candidates.group_by("record_key_l", maintain_order=True).agg(
        pl.col("record_key_r").first().alias("best"), pl.col("match_probability").first().alias("best_p"))
    # A rival: another candidate not tied to the best one at the cluster threshold. (Only the
    # ties among candidates are looked at: at 1M, 0.16 s a night over all the pairs, 0.02 s so.)
    among = candidates["record_key_r"].unique().implode()
    ties = _both_ways(pl.concat([
        pairs.filter(pl.col("match_probability") >= threshold).select(KEYS),
        must_links.select(KEYS),
    ]).filter(pl.col("record_key_l").is_in(among), pl.col("record_key_r").is_in(among))
    ).unique().rename({"record_key_l": "best"}).with_columns(pl.lit(True).alias("tied"))
    rivals = (candidates.join(best, on="record_key_l")
              .filter(pl.col("record_key_r") != pl.col("best"))
              .join(ties, on=["best", "record_key_r"], how="left")
              .filter(pl.col("tied").is_null(), pl.col("match_probability") > pl.col("best_p") * runner_up_ratio)
              .select("record_key_l").unique())
    lone = best.join(rivals, on="record_key_l", how="anti")["record_key_l"].implode()
    thin_end = pl.when(is_thin["record_key_l"]).then(pl.col("record_key_l")).otherwise(pl.col("record_key_r"))
    links = band.filter(thin_end.is_in(lone)).select(*KEYS, "match_probability", pl.lit(LONE_PERSON_REASON).alias("reason"))
    return _without(links, cannot_links).sort(KEYS)
