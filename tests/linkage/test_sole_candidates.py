"""Sole candidates (assets/linkage/sole_candidates.py): two records of different sources that are
each other's only candidate join below the cluster threshold; a rival on either side, one source,
a reviewer's non-match or a probability below the floor keeps them apart. On an incremental night
a sole pair that appears or goes sends its records to be clustered again."""

from __future__ import annotations

import polars as pl

from assets.linkage import recluster
from assets.linkage.recluster import PAIR_KEYS, components_in, constraint_table, plan_clustering
from assets.linkage.rules import load_rules
from assets.linkage.model import held_back
from assets.linkage.sole_candidates import LONE_PERSON_REASON, REASON, lone_person_links, sole_candidate_links

CASE, DTSEN, DTSEN2, PLACEMENT = "p2mi_kasus:KSS-1", "dtsen_individu:1", "dtsen_individu:2", "p2mi_penempatan:7"
NO_LINKS = pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String, "reason": pl.String})


def pairs(*rows: tuple[str, str, float]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={"record_key_l": pl.String, "record_key_r": pl.String,
                                            "match_probability": pl.Float64}, orient="row")


def sole(scored: pl.DataFrame, must: pl.DataFrame = NO_LINKS, cannot: frozenset = frozenset()) -> list[tuple]:
    return sole_candidate_links(scored, must, cannot, 0.6, 0.95).select(PAIR_KEYS).rows()


def test_a_thin_case_and_the_one_dtsen_record_it_could_be_are_joined():
    out = sole_candidate_links(pairs((DTSEN, CASE, 0.71)), NO_LINKS, frozenset(), 0.6, 0.95)
    assert out.rows(named=True) == [
        {"record_key_l": DTSEN, "record_key_r": CASE, "match_probability": 0.71, "reason": REASON}
    ]


def test_a_rival_candidate_on_either_side_keeps_the_pair_apart():
    # the case has a second DTSEN candidate, however weak
    assert sole(pairs((DTSEN, CASE, 0.71), (DTSEN2, CASE, 0.52))) == []
    # the DTSEN record has a placement of its own: it is not the case's alone
    assert sole(pairs((DTSEN, CASE, 0.71), (DTSEN, PLACEMENT, 0.99))) == []
    # a rival elsewhere leaves this pair alone
    assert sole(pairs((DTSEN, CASE, 0.71), (DTSEN2, PLACEMENT, 0.80))) == [(DTSEN, CASE), (DTSEN2, PLACEMENT)]


def test_a_stated_link_counts_as_a_candidate():
    stated = pl.DataFrame({"record_key_l": [CASE], "record_key_r": [PLACEMENT], "reason": ["case names placement"]})
    assert sole(pairs((DTSEN, CASE, 0.71)), stated) == []
    # stated and scored, the same pair counts once
    scored_and_stated = pl.DataFrame({"record_key_l": [DTSEN], "record_key_r": [CASE], "reason": ["x"]})
    assert sole(pairs((DTSEN, CASE, 0.71)), scored_and_stated) == [(DTSEN, CASE)]


def test_one_source_a_low_probability_a_strong_pair_and_a_non_match_are_not_joined():
    assert sole(pairs((DTSEN, DTSEN2, 0.9))) == []  # twins on one card look like this
    assert sole(pairs((DTSEN, CASE, 0.59))) == []
    assert sole(pairs((DTSEN, CASE, 0.97))) == []  # joined by the cluster threshold anyway
    # a reviewer's non-match, whichever way round it was written
    assert sole(pairs((DTSEN, CASE, 0.71)), cannot=frozenset({(CASE, DTSEN)})) == []
    assert sole(pairs((DTSEN, CASE, 0.71)), cannot=frozenset({(DTSEN, CASE)})) == []


def test_the_rules_file_sets_the_floor_below_the_cluster_threshold():
    rules = load_rules()
    assert rules.predict_threshold <= rules.sole_candidate_min_probability < rules.cluster_threshold


def test_a_thin_records_clear_best_person_joins_past_a_namesake_far_behind():
    # A namesake at 0.55 is a rival with no margin asked for (the default), not at a runner-up
    # ratio of 0.8 (0.55 <= 0.8 * 0.96); one at 0.8 is (0.8 > 0.768).
    far = pairs((DTSEN, CASE, 0.96), (DTSEN2, CASE, 0.55))
    close = pairs((DTSEN, CASE, 0.96), (DTSEN2, CASE, 0.8))
    with_ratio = {"runner_up_ratio": 0.8}
    assert lone(far, [CASE]) == []
    assert lone_person_links(far, pl.Series([CASE]), NO_LINKS, frozenset(), 0.9, 0.98, 0.95,
                             **with_ratio).select(PAIR_KEYS).rows() == [(DTSEN, CASE)]
    assert lone_person_links(close, pl.Series([CASE]), NO_LINKS, frozenset(), 0.9, 0.98, 0.95,
                             **with_ratio).is_empty()


def clustered_again(night1: pl.DataFrame, night2: pl.DataFrame, tonight: pl.DataFrame, new_record: str,
                    components: dict[str, str], edge_threshold: float) -> list[str]:
    """The records an incremental night clusters again (recluster.plan_clustering) when last
    night's links were `night1`, tonight's are `night2` over the scored pairs `tonight`, and
    `new_record` is tonight's one new record; `components`: last night's record -> component."""
    def as_constraints(links: pl.DataFrame) -> pl.DataFrame:
        return constraint_table(links.select("record_key_l", "record_key_r", "reason"), frozenset())

    plan = plan_clustering(
        {"fingerprint": recluster.clustering_fingerprint(), "pairs_run_id": "r1", "model_id": "m"},
        {"mode": "incremental", "previous_run_id": "r1", "model_id": "m"},
        pl.DataFrame({"record_key": [new_record], "change": ["new"]}),
        tonight.filter(pl.col("match_probability") >= edge_threshold).select(PAIR_KEYS),
        as_constraints(night2), as_constraints(night1),
        components_in(pl.DataFrame({"record_key": list(components), "component_id": list(components.values())})),
    )
    assert not plan.full
    return plan.redo.to_list()


def test_a_sole_pair_that_loses_its_standing_is_clustered_again():
    # Night 1: the case and the DTSEN record were each other's sole candidate, one component.
    night1 = sole_candidate_links(pairs((DTSEN, CASE, 0.71)), NO_LINKS, frozenset(), 0.6, 0.95)
    # Night 2: a new placement pairs with the case below the cluster threshold; the pair is no
    # longer sole, and both of its records are clustered again though neither changed.
    tonight = pairs((DTSEN, CASE, 0.71), ("p2mi_penempatan:8", CASE, 0.8))
    night2 = sole_candidate_links(tonight, NO_LINKS, frozenset(), 0.6, 0.95)
    assert night2.is_empty()
    components = {DTSEN: DTSEN, CASE: DTSEN, PLACEMENT: PLACEMENT}
    assert clustered_again(night1, night2, tonight, "p2mi_penempatan:8", components, 0.95) == sorted(
        [CASE, DTSEN, "p2mi_penempatan:8"])


def test_a_rival_far_behind_leaves_a_clear_best_candidate():
    scored = pairs((DTSEN, CASE, 0.9), (DTSEN2, CASE, 0.6))
    assert sole(scored) == []  # no rival at all is asked for by default
    clear = sole_candidate_links(scored, NO_LINKS, frozenset(), 0.6, 0.95, runner_up_ratio=0.8)
    assert clear.select(PAIR_KEYS).rows() == [(DTSEN, CASE)]  # 0.6 <= 0.8 * 0.9
    close = pairs((DTSEN, CASE, 0.7), (DTSEN2, CASE, 0.6))  # 0.6 > 0.8 * 0.7
    assert sole_candidate_links(close, NO_LINKS, frozenset(), 0.6, 0.95, runner_up_ratio=0.8).is_empty()
    # a rival on the other side counts too, and a stated link is a rival at 1.0
    other_side = pairs((DTSEN, CASE, 0.9), (DTSEN, PLACEMENT, 0.8))
    assert sole_candidate_links(other_side, NO_LINKS, frozenset(), 0.6, 0.95, runner_up_ratio=0.8).is_empty()
    stated = pl.DataFrame({"record_key_l": [CASE], "record_key_r": [PLACEMENT], "reason": ["case names placement"]})
    assert sole_candidate_links(pairs((DTSEN, CASE, 0.9)), stated, frozenset(), 0.6, 0.95, 0.8).is_empty()
    # equal best candidates: neither is clearly best
    tie = pairs((DTSEN, CASE, 0.9), (DTSEN2, CASE, 0.9))
    assert sole_candidate_links(tie, NO_LINKS, frozenset(), 0.6, 0.95, runner_up_ratio=0.8).is_empty()


def test_a_thin_record_joins_only_from_its_own_threshold_or_as_a_sole_candidate():
    # The case has neither a NIK nor a birth date: at 0.96 it is held back from the cluster
    # threshold (0.95) below the thin records' 0.98; the DTSEN pair at 0.96 is not, nor is the case
    # at 0.985, nor a pair under the cluster threshold (the sole candidates' own band).
    scored = pairs((DTSEN, CASE, 0.96), (DTSEN2, PLACEMENT, 0.96), (DTSEN2, "p2mi_kasus:KSS-2", 0.985),
                   (DTSEN, "p2mi_kasus:KSS-3", 0.7))
    thin = pl.Series([CASE, "p2mi_kasus:KSS-2", "p2mi_kasus:KSS-3"])
    assert held_back(scored, thin, 0.95, 0.98).to_list() == [True, False, False, False]
    assert held_back(scored, thin, 0.95, None).to_list() == [False] * 4
    # Held back, it still joins as each other's only candidate...
    alone = pairs((DTSEN, CASE, 0.96))
    flags = held_back(alone, thin, 0.95, 0.98)
    assert sole_candidate_links(alone, NO_LINKS, frozenset(), 0.6, 0.95, 0.8, flags).select(PAIR_KEYS).rows() == [
        (DTSEN, CASE)]
    assert sole_candidate_links(alone, NO_LINKS, frozenset(), 0.6, 0.95, 0.8).is_empty()  # not held: an edge
    # ... but not beside a namesake close behind (0.9 > 0.8 * 0.96)
    rival = pairs((DTSEN, CASE, 0.96), (DTSEN2, CASE, 0.9))
    assert sole_candidate_links(rival, NO_LINKS, frozenset(), 0.6, 0.95, 0.8,
                                held_back(rival, thin, 0.95, 0.98)).is_empty()


def lone(scored: pl.DataFrame, thin: list[str], must: pl.DataFrame = NO_LINKS,
         cannot: frozenset = frozenset(), low: float = 0.9) -> list[tuple]:
    return lone_person_links(scored, pl.Series(thin), must, cannot, low, 0.98, 0.95).select(PAIR_KEYS).rows()


def test_a_thin_record_joins_the_one_person_it_could_be():
    # The case (no NIK, no date) at 0.96 against a worker's DTSEN row, held back from the cluster
    # threshold, and at 0.7 against his placement; the two are one person (0.999): every candidate
    # is that person, so the pair joins, though the DTSEN row has a candidate of its own (no sole
    # candidate).
    person = pairs((DTSEN, CASE, 0.96), (PLACEMENT, CASE, 0.7), (DTSEN, PLACEMENT, 0.999))
    out = lone_person_links(person, pl.Series([CASE]), NO_LINKS, frozenset(), 0.9, 0.98, 0.95)
    assert out.rows(named=True) == [
        {"record_key_l": DTSEN, "record_key_r": CASE, "match_probability": 0.96, "reason": LONE_PERSON_REASON}]
    assert sole_candidate_links(person, NO_LINKS, frozenset(), 0.6, 0.95, 0.8,
                                held_back(person, pl.Series([CASE]), 0.95, 0.98)).is_empty()
    # ... and so does a stated link between them instead of the pair
    stated = pl.DataFrame({"record_key_l": [DTSEN], "record_key_r": [PLACEMENT], "reason": ["stated"]})
    assert lone(pairs((DTSEN, CASE, 0.96), (PLACEMENT, CASE, 0.7)), [CASE], stated) == [(DTSEN, CASE)]
    # from the floor (0.9) up, below it not; from the thin records' threshold (0.98) it is an edge
    assert lone(pairs((DTSEN, CASE, 0.92)), [CASE]) == [(DTSEN, CASE)]
    assert lone(pairs((DTSEN, CASE, 0.88)), [CASE]) == []
    assert lone(pairs((DTSEN, CASE, 0.985)), [CASE]) == []
    assert lone_person_links(pairs((DTSEN, CASE, 0.96)), pl.Series([CASE]), NO_LINKS, frozenset(), None, 0.98,
                             0.95).is_empty()


def test_a_namesake_one_source_or_a_non_match_keeps_a_thin_record_apart():
    # a second DTSEN row of the name, however weak, not tied to the first: two people it could be
    assert lone(pairs((DTSEN, CASE, 0.96), (DTSEN2, CASE, 0.55)), [CASE]) == []
    # tied to the first only below the cluster threshold: still two people
    assert lone(pairs((DTSEN, CASE, 0.96), (DTSEN2, CASE, 0.55), (DTSEN, DTSEN2, 0.9)), [CASE]) == []
    # another thin case of the name is no rival: two cases say nothing of which person it is
    assert lone(pairs((DTSEN, CASE, 0.96), ("p2mi_kasus:KSS-2", CASE, 0.99)), [CASE, "p2mi_kasus:KSS-2"]) == [
        (DTSEN, CASE)]
    # a DTSEN row without a NIK or a date against another row of its card: a father and a son
    assert lone(pairs((DTSEN, DTSEN2, 0.96)), [DTSEN2]) == []
    # a reviewer's non-match
    assert lone(pairs((DTSEN, CASE, 0.96)), [CASE], cannot=frozenset({(DTSEN, CASE)})) == []


def test_a_lone_person_link_that_meets_a_rival_is_clustered_again():
    # Night 1: the case's one candidate person is the DTSEN row (0.96, held back): joined.
    night1 = lone_person_links(pairs((DTSEN, CASE, 0.96)), pl.Series([CASE]), NO_LINKS, frozenset(), 0.9, 0.98, 0.95)
    assert night1.select(PAIR_KEYS).rows() == [(DTSEN, CASE)]
    # Night 2: a new DTSEN row of the name pairs with the case at 0.6: a namesake, so the link
    # goes, and the case and its DTSEN row are clustered again though neither changed.
    tonight = pairs((DTSEN, CASE, 0.96), ("dtsen_individu:3", CASE, 0.6))
    night2 = lone_person_links(tonight, pl.Series([CASE]), NO_LINKS, frozenset(), 0.9, 0.98, 0.95)
    assert night2.is_empty()
    components = {DTSEN: DTSEN, CASE: DTSEN, DTSEN2: DTSEN2}
    assert clustered_again(night1, night2, tonight, "dtsen_individu:3", components, 0.98) == sorted(
        [CASE, DTSEN, "dtsen_individu:3"])


def test_the_rules_file_sets_the_thin_records_threshold_above_the_cluster_threshold():
    rules = load_rules()
    assert rules.cluster_threshold < rules.thin_record_cluster_threshold < 1
    assert rules.predict_threshold < rules.thin_record_lone_person_min_probability < rules.thin_record_cluster_threshold
