"""The leave-one-out blocking report on six hand-made records."""

import duckdb
import polars as pl

from benchmarks.blocking_rules import rule_report


def test_rule_report_counts_pairs_and_true_pairs_only_each_rule_makes():
    con = duckdb.connect()
    records = pl.DataFrame({
        "record_key": ["a1", "a2", "b1", "c1", "c2", "d1"],
        "nik": ["1", "1", "2", None, None, "9"],
        "name": ["SITI", "SITI", "SITI", "BUDI", "BUDI", "BUDI"],
        "year": [1990, 1990, 1990, 1980, 1981, 1980],
    })
    truth = pl.DataFrame({
        "record_key": ["a1", "a2", "b1", "c1", "c2", "d1"],
        "true_person_id": ["A", "A", "B", "C", "C", "D"],
    })
    con.register("records", records)
    con.register("truth", truth)
    rules = ["l.nik = r.nik", "l.name = r.name AND l.year = r.year", "l.name = r.name AND abs(l.year - r.year) = 1"]
    rows = rule_report(con, rules)
    # nik: a1-a2 (true). name+year: a1-a2, a1-b1, a2-b1, c1-d1. one year apart: c1-c2 (true), c2-d1.
    assert rows[0] == ("l.nik = r.nik", 1, 0, 1, 0)
    assert rows[1] == (rules[1], 4, 3, 1, 0)
    assert rows[2] == (rules[2], 2, 2, 1, 1)
    assert rows[3] == ("all rules", 6, None, 2, 2)
