"""An incremental night scores only the pairs of the touched records that some blocking rule lets
through, found in the store: every such pair, between a touched record and an existing one or
between two touched ones, each once, and no other."""

from __future__ import annotations

import polars as pl
import pytest
import sqlglot

from assets.frames import query_frames
from assets.linkage import incremental
from assets.linkage.incremental import (
    _implies, blocked_pairs, blocking_pairs_sql, side_equalities, stored_blocking_pairs_sql,
)
from assets.linkage.rules import load_rules

RULES = [
    "l.nik = r.nik",
    "left(l.nik, 12) = left(r.nik, 12)",
    # asymmetric: a record's lone name against the other's name
    "l.lone_name_key = r.name_key_nospace AND coalesce(l.regency_code = r.regency_code, true)",
    # an equality beside an OR: the equality alone decides who can be reached
    "l.block_name_year = r.block_name_year AND (l.nik IS NULL OR r.nik IS NULL OR l.regency_code = r.regency_code)",
]


def frame(rows: list[dict]) -> pl.DataFrame:
    columns = ["record_key", "nik", "lone_name_key", "name_key_nospace", "regency_code", "block_name_year"]
    return pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema=dict.fromkeys(columns, pl.String))


EXISTING = frame([
    {"record_key": "e1", "nik": "3201011507900001"},                         # same NIK as t1
    {"record_key": "e2", "nik": "3201011507909999"},                         # first 12 digits as t1
    {"record_key": "e3", "name_key_nospace": "SITIAMINAH", "regency_code": "3201"},  # t2's lone name
    {"record_key": "e4", "lone_name_key": "BUDISANTOSO"},                    # its lone name is t3's name
    {"record_key": "e5", "block_name_year": "SITI-1990"},                    # t2's name block
    {"record_key": "e6", "nik": "5101011507900001", "name_key_nospace": "AGUS", "block_name_year": "AGUS-1970"},
    {"record_key": "e7"},
    # t2's lone name, but another regency: the rule's equality holds, the rule does not
    {"record_key": "e8", "name_key_nospace": "SITIAMINAH", "regency_code": "3301"},
])
TOUCHED = frame([
    {"record_key": "t1", "nik": "3201011507900001"},
    {"record_key": "t2", "lone_name_key": "SITIAMINAH", "block_name_year": "SITI-1990", "regency_code": "3201"},
    {"record_key": "t3", "name_key_nospace": "BUDISANTOSO"},
])


def pairs_through(existing: pl.DataFrame, touched: pl.DataFrame, rules: list[str]) -> set[tuple[str, str]]:
    """Every pair of two records, at least one of them touched, that a rule lets through in either
    order, as (smaller key, larger key): worked out by trying every pair."""
    either = " OR ".join(f"({rule})" for rule in rules)
    found = query_frames(
        f"SELECT DISTINCT least(l.record_key, r.record_key) AS a, greatest(l.record_key, r.record_key) AS b "
        f"FROM (SELECT * FROM existing UNION ALL SELECT * FROM touched) l, "
        f"(SELECT * FROM existing UNION ALL SELECT * FROM touched) r "
        f"WHERE l.record_key <> r.record_key AND (l.record_key LIKE 't%' OR r.record_key LIKE 't%') AND ({either})",
        {"existing": existing, "touched": touched},
    )
    return set(found.iter_rows())


def blocked(existing: pl.DataFrame, touched: pl.DataFrame, rules: list[str]) -> set[tuple[str, str]] | None:
    """The pairs the store blocks (blocked_pairs), as (smaller key, larger key), after checking that
    none comes twice."""
    pairs = blocked_pairs(pl.concat([existing, touched]), touched["record_key"], rules)
    if pairs is None:
        return None
    found = [tuple(sorted(pair)) for pair in pairs.iter_rows()]
    assert len(found) == len(set(found)), "a pair found twice"
    return set(found)


def test_every_pair_a_rule_lets_through_with_a_touched_record_is_found_once_and_no_other():
    pairs = blocked(EXISTING, TOUCHED, RULES)
    assert pairs == pairs_through(EXISTING, TOUCHED, RULES)
    assert {key for pair in pairs for key in pair if key.startswith("e")} == {"e1", "e2", "e3", "e4", "e5"}


def test_a_rule_without_an_equality_between_the_records_leaves_the_blocking_to_splink():
    rules = [*RULES, "levenshtein(l.name_key_nospace, r.name_key_nospace) <= 1"]
    assert blocked(EXISTING, TOUCHED, rules) is None


def test_the_model_rules_each_have_an_equality_to_prefilter_on():
    # Otherwise an incremental night scores against every record again (still right, but slow).
    rules = load_rules()
    assert all(side_equalities(rule, rules.sql_dialect) for rule in rules.blocking_rules)
    assert side_equalities("l.nik = r.nik OR l.kk = r.kk", "duckdb") == []


def test_a_condition_on_one_record_holds_on_either_side():
    # The rule asks its left record alone to lack a region: a pair goes through when either of its
    # records lacks one. e_a lacks one (with t_a); t_b does (with e_c); t_c does, with every AGUS,
    # the other touched AGUS (t_a) too, once; e_b and t_a both have one.
    rules = ["l.name_key_nospace = r.name_key_nospace AND l.regency_code IS NULL"]
    existing = frame([
        {"record_key": "e_a", "name_key_nospace": "AGUS"},
        {"record_key": "e_b", "name_key_nospace": "AGUS", "regency_code": "3201"},
        {"record_key": "e_c", "name_key_nospace": "BUDI", "regency_code": "3301"},
        {"record_key": "e_d", "name_key_nospace": "CITRA"},
    ])
    touched = frame([
        {"record_key": "t_a", "name_key_nospace": "AGUS", "regency_code": "3201"},
        {"record_key": "t_b", "name_key_nospace": "BUDI"},
        {"record_key": "t_c", "name_key_nospace": "AGUS"},
    ])
    assert blocked(existing, touched, rules) == pairs_through(existing, touched, rules) == {
        ("e_a", "t_a"), ("e_c", "t_b"), ("e_a", "t_c"), ("e_b", "t_c"), ("t_a", "t_c")}


def test_a_join_that_follows_from_another_rules_join_is_not_made_again():
    # Equal NIKs have equal first 15 and 12 digits: the three NIK rules are one join, on the
    # first 12 digits; a birth year is not implied by its half, nor 15 digits by 12.
    assert _implies(_sides("e.nik = t.nik"), _sides("left(e.nik, 15) = left(t.nik, 15)"))
    assert _implies(_sides("left(e.nik, 15) = left(t.nik, 15)"), _sides("left(e.nik, 12) = left(t.nik, 12)"))
    assert _implies(_sides("e.birth_year = t.birth_year"), _sides("e.birth_year // 2 = t.birth_year // 2"))
    assert not _implies(_sides("left(e.nik, 12) = left(t.nik, 12)"), _sides("left(e.nik, 15) = left(t.nik, 15)"))
    assert not _implies(_sides("e.birth_year // 2 = t.birth_year // 2"), _sides("e.birth_year = t.birth_year"))
    assert not _implies(_sides("e.nik = t.nik"), _sides("e.kk = t.kk"))
    # Asymmetric: a record's lone name against the other's name is not the other way round.
    assert not _implies(_sides("e.lone_name_key = t.name_key_nospace"),
                        _sides("e.name_key_nospace = t.lone_name_key"))
    rules = ["l.nik = r.nik", "left(l.nik, 15) = left(r.nik, 15)", "left(l.nik, 12) = left(r.nik, 12)"]
    sql = blocking_pairs_sql(rules, "duckdb", "records", "fresh")
    assert sql.count(" JOIN ") == 1 and "ON LEFT(e.nik, 12) = LEFT(t.nik, 12) AND" in sql
    existing = frame([{"record_key": "e1", "nik": "3201011507900001"}, {"record_key": "e2", "nik": "3201011507909999"},
                      {"record_key": "e3", "nik": "3201011507900009"}, {"record_key": "e4", "nik": "5101011507900001"}])
    touched = frame([{"record_key": "t1", "nik": "3201011507900001"}])
    assert blocked(existing, touched, rules) == pairs_through(existing, touched, rules) == {
        ("e1", "t1"), ("e2", "t1"), ("e3", "t1")}


def test_a_rule_folded_into_another_join_keeps_its_condition_on_one_record():
    # The first rule's join (equal NIKs) is within the second's (first 12 digits), but it asks the
    # left record to lack a region, which the second does not: folded in, it keeps that condition.
    rules = ["l.nik = r.nik AND l.regency_code IS NULL",
             "left(l.nik, 12) = left(r.nik, 12) AND l.name_key_nospace <> r.name_key_nospace"]
    sql = blocking_pairs_sql(rules, "duckdb", "records", "fresh")
    assert sql.count(" JOIN ") == 1 and "regency_code IS NULL" in sql
    existing = frame([
        {"record_key": "e1", "nik": "3201011507900001", "name_key_nospace": "AGUS"},  # lacks a region
        {"record_key": "e2", "nik": "3201011507900001", "name_key_nospace": "AGUS", "regency_code": "3201"},
        {"record_key": "e3", "nik": "3201011507909999", "name_key_nospace": "BUDI", "regency_code": "3201"},
    ])
    touched = frame([
        {"record_key": "t1", "nik": "3201011507900001", "name_key_nospace": "AGUS", "regency_code": "3201"},
        {"record_key": "t2", "nik": "3201011507900001", "name_key_nospace": "AGUS"},  # lacks a region
    ])
    # e2 and t1: the same NIK and name, both with a region: neither rule.
    assert blocked(existing, touched, rules) == pairs_through(existing, touched, rules) == {
        ("e1", "t1"), ("e1", "t2"), ("e2", "t2"), ("e3", "t1"), ("e3", "t2"), ("t1", "t2")}


def _sides(equality: str) -> tuple:
    tree = sqlglot.parse_one(equality, dialect="duckdb")
    return tree.left, tree.right


def test_a_stored_partner_search_is_used_only_when_made_from_the_same_rules_and_names(monkeypatch):
    names = ("records", "fresh", "rowid", "__touched")
    key, sql = stored_blocking_pairs_sql(RULES, "duckdb", *names, {})
    assert sql == blocking_pairs_sql(RULES, "duckdb", *names)
    # The same rules and names: the stored search, not made again (making it would fail here).
    monkeypatch.setattr(incremental, "_partner_branches", lambda *a: pytest.fail("the search was made again"))
    assert stored_blocking_pairs_sql(RULES, "duckdb", *names, {"partner_search_key": key,
                                                               "partner_search_sql": "stored"}) == (key, "stored")
    monkeypatch.undo()
    # Another rule, another dialect or other names: made again, under another key.
    for rules, dialect, others in ((RULES[:-1], "duckdb", names), (RULES, "spark", names),
                                   (RULES, "duckdb", ("records", "fresh", "record_key", "__touched"))):
        other_key, other_sql = stored_blocking_pairs_sql(rules, dialect, *others,
                                                         {"partner_search_key": key, "partner_search_sql": "stored"})
        assert other_key != key and other_sql == blocking_pairs_sql(rules, dialect, *others)
    # A rule without an equality: no search, and that is stored too.
    loose = ["l.nik = r.nik OR l.name_key_nospace = r.name_key_nospace"]
    loose_key, loose_sql = stored_blocking_pairs_sql(loose, "duckdb", *names, {})
    assert loose_sql is None
    assert stored_blocking_pairs_sql(loose, "duckdb", *names, {"partner_search_key": loose_key,
                                                               "partner_search_sql": None}) == (loose_key, None)


def test_the_partner_search_key_follows_the_code_that_makes_the_search(monkeypatch):
    names = ("records", "fresh", "rowid", "__touched")
    key = incremental.partner_search_key(RULES, "duckdb", *names)
    monkeypatch.setattr(incremental, "code_fingerprint", lambda files, packages: "other code")
    assert incremental.partner_search_key(RULES, "duckdb", *names) != key


def _search(existing: pl.DataFrame, touched: pl.DataFrame, rekeyed: set[str], key_columns: tuple[str, ...]):
    """The pairs blocking_pairs_sql finds with the records of `rekeyed` among the touched ones marked
    as records whose keys alone moved, as (smaller key, larger key)."""
    sql = blocking_pairs_sql(RULES, "duckdb", "records", "fresh", rekeyed="__rekeyed", key_columns=key_columns)
    fresh = touched.with_columns(pl.col("record_key").is_in(list(rekeyed)).alias("__rekeyed"))
    found = query_frames(sql, {"records": pl.concat([existing, touched]), "fresh": fresh})
    return {tuple(sorted(pair)) for pair in found.iter_rows() if pair[0] != pair[1]}


def test_a_rekeyed_record_is_searched_through_the_rules_that_read_a_key_only():
    # r1's NIK is e1's and its name block e5's; its key alone moved, so only the rule on the key
    # (block_name_year) finds its partners: e5, and the touched t2 of the same block. The NIK rule
    # lets (e1, r1) through as last night: that pair is last night's, and not looked for.
    rekeyed = frame([{"record_key": "r1", "nik": "3201011507900001", "block_name_year": "SITI-1990"}])
    touched = pl.concat([TOUCHED, rekeyed])
    found = _search(EXISTING, touched, {"r1"}, ("block_name_year",))
    everything = _search(EXISTING, touched, set(), ("block_name_year",))
    assert {pair for pair in everything if "r1" in pair} == {("e1", "r1"), ("e2", "r1"), ("e5", "r1"),
                                                             ("r1", "t1"), ("r1", "t2")}
    # A touched record still finds the rekeyed one by any rule (t1 by the NIK), and r1 finds its
    # block: every pair but those of r1 through the NIK rules alone.
    assert found == everything - {("e1", "r1"), ("e2", "r1")}
    # Without key columns, a rekeyed record takes part in no branch.
    assert {pair for pair in _search(EXISTING, touched, {"r1"}, ()) if "r1" in pair} == {("r1", "t1"), ("r1", "t2")}


def test_a_rekeyed_records_pairs_are_scored_where_new_and_dropped_where_no_rule_holds():
    keys = incremental.PAIR_KEYS
    records = frame([
        {"record_key": "a", "nik": "3201011507900001", "block_name_year": "X"},
        {"record_key": "b", "nik": "3201011507900001", "block_name_year": "Y"},  # a's NIK: the NIK rule holds
        {"record_key": "c", "block_name_year": "Z"},
        {"record_key": "d", "block_name_year": "X"},
        {"record_key": "t", "block_name_year": "X"},
    ])
    # Tonight's pairs: t (touched) with a, a with d through the key (both rekeyed).
    blocked = pl.DataFrame({"record_key_l": ["a", "a"], "record_key_r": ["t", "d"]})
    # Last night's stored pairs of rekeyed records: (a, b) and (a, c), found by no key rule tonight;
    # (a, d), found again.
    stored = pl.DataFrame({"record_key_l": ["a", "a", "a"], "record_key_r": ["b", "c", "d"],
                           "match_weight": [9.0, 8.0, 7.0], "match_probability": [0.99, 0.98, 0.97]})
    read = []

    def records_of(wanted: pl.DataFrame) -> pl.DataFrame:
        read.append(sorted(wanted["record_key"].to_list()))
        return records.join(wanted, on="record_key", how="semi")

    key = ("block_name_year",)
    to_score, added, lost = incremental.rekeyed_pairs(blocked, pl.Series(["t"]), stored, records_of, RULES, key)
    # (a, t) has a touched record: scored; (a, d) is stored: kept as it is, not scored again.
    assert sorted(to_score.select(keys).rows()) == [("a", "t")]
    assert added.is_empty()
    # (a, b): the NIK rule still holds; (a, c): no rule does any more.
    assert lost.select(keys).rows() == [("a", "c")] and lost["match_weight"].to_list() == [8.0]
    assert read == [["a", "b", "c"]]
    # A rekeyed pair not stored last night is scored (new, or below the threshold as last night).
    blocked_more = pl.concat([blocked, pl.DataFrame({"record_key_l": ["c"], "record_key_r": ["d"]})])
    to_score, added, lost = incremental.rekeyed_pairs(blocked_more, pl.Series(["t"]), stored, records_of, RULES, key)
    assert sorted(to_score.select(keys).rows()) == [("a", "t"), ("c", "d")] and added.rows() == [("c", "d")]
    # A night on which blocks only grew: a part of a key's block tonight was within one last night,
    # so (c, d) was a candidate then, with the score it has now: not scored again, and the rekeyed
    # records are not searched at all. Their stored pairs are checked against every rule instead:
    # (a, d) is kept by the key rule, (a, b) by the NIK rule, and (a, c) is lost.
    read.clear()
    to_score, added, lost = incremental.rekeyed_pairs(blocked.filter(pl.col("record_key_r") == "t"), pl.Series(["t"]),
                                                      stored, records_of, RULES, key, blocks_only_grew=True)
    assert sorted(to_score.select(keys).rows()) == [("a", "t")] and added.is_empty()
    assert lost.select(keys).rows() == [("a", "c")] and lost["match_weight"].to_list() == [8.0]
    assert read == [["a", "b", "c", "d"]]
    # A pair of rekeyed records alone that a search found anyway is not scored on such a night.
    to_score, added, lost = incremental.rekeyed_pairs(blocked_more, pl.Series(["t"]), stored, records_of, RULES, key,
                                                      blocks_only_grew=True)
    assert sorted(to_score.select(keys).rows()) == [("a", "t")] and added.is_empty()
    assert lost.select(keys).rows() == [("a", "c")]


def test_the_pairs_a_rule_lets_through_are_those_trying_every_pair_finds():
    # Every pair of two records with a touched one, in both orders: the rules read as written.
    records = pl.concat([EXISTING, TOUCHED])
    keys = sorted(records["record_key"].to_list())
    every = pl.DataFrame([(a, b) for a in keys for b in keys if a < b and "t" in (a[0], b[0])],
                         schema=incremental.PAIR_KEYS, orient="row")
    through = incremental.pairs_let_through(every, records, RULES)
    assert set(through.iter_rows()) == pairs_through(EXISTING, TOUCHED, RULES)
    assert through.height == len(set(through.iter_rows()))
