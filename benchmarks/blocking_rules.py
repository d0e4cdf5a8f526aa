"""What each blocking rule brings, exactly: the candidate pairs and the true pairs that only this
rule makes (leave one out), on a night's `staging.person_records` and the generator's truth.

    python -m benchmarks.blocking_rules --warehouse data/warehouse/padu_work.duckdb \\
        --truth data/landing/_truth/person_truth.csv [--rules other_model.yaml]

Pairs are unordered, so a rule and its mirror (l and r swapped, as the two lone-name rules are)
make the same pairs here and neither shows pairs of its own: judge such a pair of rules together.
A rule whose pairs are many and whose true pairs are few is the one to tighten; the totals give
the blocking recall of the rule set as a whole. Counts are exact (every pair is built in DuckDB),
so a 1M-person night needs a few minutes and several GB; the quality report's
`quality.blocking_recall` gives the cheaper cumulative view every night.
"""

import argparse
from pathlib import Path

import duckdb
import yaml

from assets.linkage.rules import MODEL_FILE


def rule_report(con: duckdb.DuckDBPyConnection, rules: list[str]) -> list[tuple]:
    """(rule, pairs, pairs only it makes, true pairs, true pairs only it finds) per rule, then the
    totals; `records` (record_key and the rules' columns) and `truth` (record_key, true_person_id)
    must exist on `con`."""
    con.execute("""CREATE OR REPLACE TEMP TABLE true_pairs AS
        SELECT a.record_key AS l, b.record_key AS r FROM truth a JOIN truth b
        ON a.true_person_id = b.true_person_id AND a.record_key < b.record_key
        SEMI JOIN records x ON x.record_key = a.record_key SEMI JOIN records y ON y.record_key = b.record_key""")
    con.execute("CREATE OR REPLACE TEMP TABLE hits (l VARCHAR, r VARCHAR, rule INTEGER)")
    for i, rule in enumerate(rules):
        # Both orders: a rule need not be symmetric (l.lone_name_key = r.name_key_nospace).
        con.execute(f"""INSERT INTO hits SELECT DISTINCT least(l.record_key, r.record_key),
            greatest(l.record_key, r.record_key), {i}
            FROM records l JOIN records r ON ({rule}) AND l.record_key <> r.record_key""")
    con.execute("""CREATE OR REPLACE TEMP TABLE pairs AS
        SELECT h.l, h.r, list(h.rule) AS rules, any_value(t.l IS NOT NULL) AS is_true
        FROM hits h LEFT JOIN true_pairs t ON t.l = h.l AND t.r = h.r GROUP BY h.l, h.r""")
    rows = []
    for i, rule in enumerate(rules):
        rows.append((rule, *con.execute(f"""SELECT
            count(*) FILTER (WHERE list_contains(rules, {i})),
            count(*) FILTER (WHERE rules = [{i}]),
            count(*) FILTER (WHERE list_contains(rules, {i}) AND is_true),
            count(*) FILTER (WHERE rules = [{i}] AND is_true) FROM pairs""").fetchone()))
    pairs, found = con.execute("SELECT count(*), count(*) FILTER (WHERE is_true) FROM pairs").fetchone()
    true_total = con.execute("SELECT count(*) FROM true_pairs").fetchone()[0]
    rows.append(("all rules", pairs, None, found, true_total))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, required=True, help="a night's padu_work.duckdb")
    parser.add_argument("--truth", type=Path, required=True, help="the generator's _truth/person_truth.csv")
    parser.add_argument("--rules", type=Path, default=MODEL_FILE, help="model YAML (default: the pipeline's)")
    parser.add_argument("--memory-limit", default="8GB")
    args = parser.parse_args()
    rules = yaml.safe_load(args.rules.read_text())["blocking_rules_to_generate_predictions"]
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    con.execute("ATTACH ? AS night (READ_ONLY)", [str(args.warehouse)])
    con.execute("CREATE TEMP TABLE records AS SELECT * FROM night.staging.person_records")
    con.execute("""CREATE TEMP TABLE truth AS SELECT source || ':' || source_record_id AS record_key,
        true_person_id FROM read_csv(?, all_varchar = true)""", [str(args.truth)])
    rows = rule_report(con, rules)
    print(f"{'pairs':>11} {'only it':>11} {'true':>9} {'only it':>8}  rule")
    for rule, pairs, only, true, true_only in rows[:-1]:
        print(f"{pairs:>11,} {only:>11,} {true:>9,} {true_only:>8,}  {rule}")
    _, pairs, _, found, true_total = rows[-1]
    print(f"all rules: {pairs:,} candidate pairs; {found:,} of {true_total:,} true pairs through "
          f"(blocking recall {found / true_total:.5f})")


if __name__ == "__main__":
    main()
