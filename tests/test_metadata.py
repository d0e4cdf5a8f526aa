"""The count tables the Dagster UI shows: counted in Polars or where a warehouse table is, the same."""

import polars as pl

from assets.frames import query_frames
from assets.metadata import value_counts, value_counts_sql
from assets.standardise.issues import issue_counts_sql


def test_value_counts_where_the_table_is_match_those_in_memory():
    frame = pl.DataFrame({"nik_issue": ["too short", None, "bad region", "too short", None, None, "bad region"]})
    counted = query_frames(value_counts_sql("t", "nik_issue"), {"t": frame})
    # Most frequent first, ties by value; missing counted as "(none)".
    assert counted.rows() == [("(none)", 3), ("bad region", 2), ("too short", 2)]
    assert counted.rows() == value_counts(frame, "nik_issue").rows()


def test_issue_counts_count_each_issue_of_a_row():
    frame = pl.DataFrame({"value_issues": [["desil: outside 1-10", "jenis_kelamin: not a sex code"], [], None,
                                           ["desil: outside 1-10"]]})
    assert query_frames(issue_counts_sql("t"), {"t": frame}).rows() == [
        ("desil: outside 1-10", 2), ("jenis_kelamin: not a sex code", 1)]
