"""Scoring that a night can repeat in part: the trained model is kept with its term-frequency
tables, so a pair of records gets the same score whether it is scored in a full rebuild or in an
incremental night; only records whose linkage columns changed are scored again.

- `term_frequency_tables` / `tf_lookup`: the model's frozen term frequencies (a value first seen
  after training counts as seen once in the training data).
- `record_hashes_sql` / `classify_records`: which records are new, changed, deleted or unchanged
  since the last night (in DuckDB, where the records are).
- `score_all` (full rebuild) and `score_touched` (new and changed records against the unchanged
  ones and among themselves: the pairs the blocking rules let through, found by
  `blocking_pairs_sql` and scored by `score_pairs`): the same pairs, the same scores.
- `ModelStore`: trained models, versioned by rules hash and training time, never overwritten.

Scoring runs on the configured backend (assets/linkage/backend.py); the model JSON is always kept
in the rules' SQL dialect."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import sqlglot
from splink import DuckDBAPI
from splink.internals.database_api import DatabaseAPI
from sqlglot import exp

from assets.fingerprint import code_fingerprint
from assets.frames import query_frames
from assets.warehouse import insert_rows
from assets.linkage.backend import (
    DUCKDB, LinkageBackend, blocking_rule_sql, make_db_api, make_linker, register_frame, settings_for_backend,
)

PAIR_KEYS = ["record_key_l", "record_key_r"]


def term_frequency_columns(model_json: dict) -> list[str]:
    """The input columns whose term frequencies adjust a comparison level."""
    columns = {
        level["tf_adjustment_column"]
        for comparison in model_json["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)


# The population register: the one source that holds everyone once, not the migrants and
# students whose names follow their own fashions.
TF_BASE_SOURCE = "dtsen_individu"


def term_frequency_tables(records: pl.DataFrame, columns: list[str]) -> dict[str, pl.DataFrame]:
    """Splink's definition of a term frequency (count of a value / count of non-null values),
    counted on the deduplicated DTSEN: each person once, a person being a valid NIK (a record
    without one counts alone), so that a family registered twice or a worker's three placements
    do not make a name look common. Without DTSEN records, on all records. Computed once at
    training and kept with the model."""
    base = records.filter(pl.col("source") == TF_BASE_SOURCE)
    if base.is_empty():
        base = records
    person = pl.coalesce("nik", "record_key").alias("__person")
    tables = {}
    for column in columns:
        values = base.select(person, column).filter(pl.col(column).is_not_null()).unique()
        total = max(values.height, 1)
        tables[column] = values.group_by(column).len("n").select(
            column, (pl.col("n").cast(pl.Float64) / total).alias(f"tf_{column}"), pl.lit(total).alias("total")
        )
    return tables


def tf_lookup(table: pl.DataFrame, column: str, values: pl.Series) -> pl.DataFrame:
    """The frozen table plus tonight's values it has never seen, each counted as seen once: a
    value's frequency depends on the model only, never on which records are scored with it."""
    total = int(table["total"][0]) if table.height else 1
    unseen = (
        pl.DataFrame({column: values}).drop_nulls().unique()
        .join(table.select(column), on=column, how="anti")
        .with_columns(pl.lit(1.0 / total).alias(f"tf_{column}"))
    )
    return pl.concat([table.select(column, f"tf_{column}"), unseen], how="vertical_relaxed")


# How `record_hashes_sql` hashes, kept in `linkage.state`: hashes of another kind (Polars' struct
# hash, before 2026-12-05; one hash over the capped keys too, before 2026-12-07) cannot be compared,
# and the night links in full.
RECORD_HASH_KIND = ("duckdb hash of the linkage and family columns, one of the capped blocking keys and one of "
                    "what places a record in their blocks")


def record_hashes_sql(table: str, columns: list[str], where: str | None = None,
                      keys: list[str] | tuple[str, ...] = (), blocks: list[str] | tuple[str, ...] = ()) -> str:
    """SQL: record_key, `record_hash` (a hash of every column the model blocks on or compares but
    the capped blocking keys `keys`), `key_hash` (a hash of those keys) and `block_hash` (a hash of
    `blocks`, the expressions that place a record in the keys' blocks) of the records of `table`
    (that satisfy `where`). In DuckDB where the records are: hashing a 1M night's records in
    Polars meant reading all of them out first (0.8 s together). The keys are hashed apart because
    they are made from the population, not from the record: a record whose key alone moved (its
    block crossed its size limit) is the same record, whose pairs only change where a rule blocks
    on the key (`classify_records`)."""
    def quoted(names) -> str:
        return ", ".join(f'"{name}"' for name in names)

    hashed = quoted(c for c in columns if c != "record_key" and c not in keys)
    key_hash = f"hash({quoted(keys)})" if keys else "0::UBIGINT"
    block_hash = f"hash({', '.join(blocks)})" if blocks else "0::UBIGINT"
    return (f"SELECT record_key, hash({hashed}) AS record_hash, {key_hash} AS key_hash, {block_hash} AS block_hash "
            f"FROM {table}" + (f" WHERE {where}" if where else ""))


CHANGES = ("new", "changed", "deleted")
# A record whose capped blocking keys alone moved: not a changed record (its values are last
# night's), but one whose candidate pairs may differ where a rule blocks on a key.
REKEYED = "rekeyed"


@dataclass(frozen=True)
class RecordDelta:
    """changes: record_key and change (one of CHANGES, or REKEYED) of each record that is not
    unchanged (`linkage.record_changes` holds those of CHANGES), in no particular order: its
    readers filter and join on the keys. Kept as a frame, unsorted: on a first night every record
    is new, and sorting the 1.3M keys of a 1M night took 0.4 s (as Python lists, sorted and
    written, 0.6 s). touched_hashes: record_key and tonight's record_hash, key_hash and block_hash
    of the new, changed and rekeyed records."""

    changes: pl.DataFrame
    unchanged: int
    touched_hashes: pl.DataFrame
    # Records that left a block of a capped key tonight: deleted, or changed in what places them
    # in the blocks (block_hash). None left: the blocks only grew.
    blocks_left: int = 0

    def keys(self, *changes: str) -> pl.Series:
        return self.changes.filter(pl.col("change").is_in(changes))["record_key"]

    def count(self, change: str) -> int:
        return self.keys(change).len()

    @property
    def touched(self) -> pl.Series:
        return self.keys("new", "changed")

    @property
    def rekeyed(self) -> pl.Series:
        return self.keys(REKEYED)

    @property
    def record_changes(self) -> pl.DataFrame:
        """The new, changed and deleted records (`linkage.record_changes`)."""
        return self.changes.filter(pl.col("change") != REKEYED)


def classify_records(con: duckdb.DuckDBPyConnection, tonight_sql: str, previous: str | None,
                     written_sql: str | None = None) -> RecordDelta:
    """Which records of `tonight_sql` (record_key, record_hash, key_hash) are new, changed,
    rekeyed (the same record_hash, another key_hash) or deleted against the table `previous` (the
    same columns; None: every record is new). `written_sql`: the same of only tonight's records
    written since `previous` was made, when every other record is known to be as it was then (a
    record not written since cannot have changed): only those are hashed (at 1M, on a P2MI-only
    night, 0.12 s against 0.25 to 0.38 s for all 1.3M). Worked out where the hashes are: only the
    records that differ leave DuckDB (at 1M, reading 1.3M hashes out and joining them in Polars
    took 0.5 s)."""
    if previous is None:
        previous = ("(SELECT NULL::VARCHAR AS record_key, NULL::UBIGINT AS record_hash, "
                    "NULL::UBIGINT AS key_hash, NULL::UBIGINT AS block_hash WHERE false)")
    tonight = con.execute(f"SELECT count(*) FROM ({tonight_sql})").fetchall()[0][0]
    kind = (f"CASE WHEN o.record_key IS NULL THEN 'new' WHEN n.record_hash IS DISTINCT FROM o.record_hash "
            f"THEN 'changed' ELSE '{REKEYED}' END")
    differs = "n.record_hash IS DISTINCT FROM o.record_hash OR n.key_hash IS DISTINCT FROM o.key_hash"
    left = "o.record_key IS NOT NULL AND n.block_hash IS DISTINCT FROM o.block_hash"
    if written_sql is None:
        differ = con.sql(f"""
            SELECT coalesce(n.record_key, o.record_key) AS record_key,
                   CASE WHEN n.record_key IS NULL THEN 'deleted' ELSE {kind} END AS change,
                   n.record_hash, n.key_hash, n.block_hash, {left} AS left_blocks
            FROM ({tonight_sql}) n FULL JOIN {previous} o ON n.record_key = o.record_key
            WHERE {differs}""").pl()
    else:
        differ = con.sql(f"""
            SELECT n.record_key, {kind} AS change, n.record_hash, n.key_hash, n.block_hash, {left} AS left_blocks
            FROM ({written_sql}) n LEFT JOIN {previous} o ON n.record_key = o.record_key
            WHERE {differs}""").pl()
        # Every record not written since is among the previous ones, so the new ones are all among
        # the written: the previous records less those still here (tonight's less the new) are the
        # deleted ones. Looked for only when there are some (the anti join of the 1.3M keys took
        # 0.09 s of a 1M night).
        stored = con.execute(f"SELECT count(*) FROM {previous}").fetchall()[0][0]
        if stored - (tonight - differ.filter(pl.col("change") == "new").height) > 0:
            differ = pl.concat([differ, con.sql(f"""
                SELECT o.record_key, 'deleted' AS change, NULL::UBIGINT AS record_hash, NULL::UBIGINT AS key_hash,
                       NULL::UBIGINT AS block_hash, true AS left_blocks
                FROM {previous} o ANTI JOIN ({tonight_sql}) n ON n.record_key = o.record_key""").pl()])
    touched = differ.filter(pl.col("change") != "deleted")
    return RecordDelta(changes=differ.select("record_key", "change"),
                       unchanged=tonight - touched.height,
                       touched_hashes=touched.select("record_key", "record_hash", "key_hash", "block_hash"),
                       blocks_left=int(differ["left_blocks"].sum()))


def scoring_linker(frames: dict[str, pl.DataFrame], model_json: dict, tf_tables: dict[str, pl.DataFrame],
                   db_api: DatabaseAPI | None = None, backend: LinkageBackend = DUCKDB):
    """A Splink linker of `model_json` over `frames` (`person_records`, or role tables for
    predict_between/within) with the model's frozen term frequencies registered, so that a pair
    scores the same wherever it is scored. Returns the linker and the registered tables."""
    if db_api is None:  # a DuckDB connection that lives as long as the linker
        db_api = DuckDBAPI(connection=duckdb.connect())
    registered = {name: register_frame(db_api, frame, name) for name, frame in frames.items()}
    everything = pl.concat(list(frames.values()), how="vertical_relaxed")
    # A dedupe model takes one input table: the role tables (of the same columns) are passed to
    # predict_between/within, and the linker is made on the first.
    base = registered.get("person_records") or next(iter(registered.values()))
    settings = settings_for_backend(model_json, backend, model_json.get("sql_dialect", "duckdb"))
    linker = make_linker(base, settings, validate=False)  # checked when the model was trained
    for column, table in tf_tables.items():
        lookup = tf_lookup(table, column, everything[column])
        linker.table_management.register_term_frequency_lookup(
            register_frame(db_api, lookup, f"tf_{column}_lookup"), column
        )
    return linker, registered


def ordered_pair_keys() -> list[pl.Expr]:
    """A pair's two record keys with the smaller one left: every comparison is symmetric, so a pair
    is the same whichever side a record is on, and a full dedupe puts the smaller key left."""
    # (A swap on one comparison: pl.min/max_horizontal over the two strings took 5 to 10 times as long.)
    swap = pl.col("record_key_l") > pl.col("record_key_r")
    return [
        pl.when(swap).then(pl.col("record_key_r")).otherwise(pl.col("record_key_l")).alias("record_key_l"),
        pl.when(swap).then(pl.col("record_key_l")).otherwise(pl.col("record_key_r")).alias("record_key_r"),
    ]


def _pairs_frame(predictions, keep_columns: list[str] | None, keep: pl.Expr | None = None) -> pl.DataFrame:
    """Splink's predictions as pairs (`keep`: only those, on Splink's orientation), the smaller key left."""
    pairs = pl.from_arrow(predictions.as_pyarrow_table())
    if keep is not None:
        pairs = pairs.filter(keep)
    explain = [c for c in pairs.columns if c.startswith(("gamma_", "mw_")) and c != "mw_prior"]
    pairs = pairs.select(*PAIR_KEYS, "match_weight", "match_probability", *explain)
    pairs = pairs.with_columns(ordered_pair_keys())
    return pairs.select(keep_columns) if keep_columns else pairs


def score_all(records: pl.DataFrame, model_json: dict, tf_tables: dict[str, pl.DataFrame],
              threshold: float, backend: LinkageBackend = DUCKDB) -> pl.DataFrame:
    """Full rebuild: every blocked pair of tonight's records, kept from `threshold` up."""
    with make_db_api(backend) as db_api:
        linker, _ = scoring_linker({"person_records": records}, model_json, tf_tables, db_api, backend)
        return _pairs_frame(linker.inference.predict(threshold_match_probability=threshold), None)


def side_equalities(rule: str, dialect: str) -> list[exp.EQ]:
    """The conjuncts of a blocking rule that equate an expression of one record (`l`) with one of
    the other (`r`): every pair the rule lets through satisfies each of them."""
    tree = sqlglot.parse_one(rule, dialect=dialect)
    conjuncts = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    out = []
    for conjunct in conjuncts:
        if isinstance(conjunct, exp.EQ):
            sides = [{c.table for c in side.find_all(exp.Column)} for side in (conjunct.left, conjunct.right)]
            if sorted(map(sorted, sides)) == [["l"], ["r"]]:
                out.append(conjunct)
    return out


def _existing_as(equality: exp.EQ, side: str) -> tuple[exp.Expression, exp.Expression]:
    """`equality`'s two sides with the existing record `e` as record `side` (l or r) and the
    touched one `t` as the other: the existing record's expression first (so a symmetric equality
    reads the same either way round)."""
    ordered = sorted((equality.left, equality.right), key=lambda s: next(s.find_all(exp.Column)).table != side)
    return _renamed(ordered[0], "e"), _renamed(ordered[1], "t")


def _renamed(side: exp.Expression, alias: str) -> exp.Expression:
    renamed = side.copy()
    for column in renamed.find_all(exp.Column):
        column.set("table", exp.to_identifier(alias))
    return renamed


# Stands for the expression an equality joins on, in what `_function_of` makes of another.
_JOINED = exp.column("__joined")


def _function_of(expression: exp.Expression, inner: exp.Expression) -> exp.Expression | None:
    """`expression` as a function of `inner` alone (each occurrence of `inner` replaced by
    _JOINED), or None when it reads a column elsewhere. A prefix `left(c, n)` is read as
    `left(left(c, m), n)` where `inner` is `left(c, m)` with m >= n."""
    def prefix(node: exp.Expression) -> exp.Expression:
        if (isinstance(node, exp.Left) and isinstance(inner, exp.Left) and node.this == inner.this
                and all(isinstance(n.expression, exp.Literal) and n.expression.is_int for n in (node, inner))
                and int(node.expression.this) <= int(inner.expression.this)):
            return exp.Left(this=inner.copy(), expression=node.expression.copy())
        return node

    replaced = expression.transform(prefix).transform(lambda node: _JOINED.copy() if node == inner else node)
    return replaced if {column.name for column in replaced.find_all(exp.Column)} == {_JOINED.name} else None


def _implies(equality: tuple[exp.Expression, exp.Expression], other: tuple[exp.Expression, exp.Expression]) -> bool:
    """Whether records equal on `equality` (e side, t side) are equal on `other`: its two sides
    are one function of `equality`'s (`left(e.nik, 12)` of `e.nik` or of `left(e.nik, 15)`)."""
    functions = [_function_of(mine, theirs) for mine, theirs in zip(other, equality)]
    return None not in functions and functions[0] == functions[1]


def _rule_as(rule: str, side: str, dialect: str) -> exp.Expression:
    """The whole rule with the existing record `e` as record `side` (l or r), the touched one `t`
    as the other."""
    tree = sqlglot.parse_one(rule, dialect=dialect)
    for column in tree.find_all(exp.Column):
        column.set("table", exp.to_identifier("e" if column.table == side else "t"))
    return tree


def _one_sided(rule: exp.Expression, dialect: str) -> tuple[str, str, str]:
    """A rule (records `e` and `t`) as its conjuncts on `e` alone, on `t` alone and on both, each
    part a condition ("" when there is none)."""
    parts: dict[str, list[str]] = {"e": [], "t": [], "both": []}
    for conjunct in (rule.flatten() if isinstance(rule, exp.And) else [rule]):
        tables = {column.table for column in conjunct.find_all(exp.Column)}
        parts[tables.pop() if len(tables) == 1 else "both"].append(f"({conjunct.sql(dialect=dialect)})")
    return tuple(" AND ".join(sorted(set(parts[k]))) for k in ("e", "t", "both"))


def _partner_branches(blocking_rules: list[str], dialect: str) -> dict[tuple[str, str, str], set[str]] | None:
    """The branches of `blocking_pairs_sql`: per (equalities joined on, condition on the existing
    record `e` alone, condition on the touched record `t` alone), the conditions on both of the
    rules that share them. None when a rule has no equality between the two records.

    A branch whose pairs another branch's join finds too is folded into it (`_subsumes`), its
    rules then also holding its own one-sided conditions: the other join is made anyway, and
    each branch reads every stored record once more (at 1M, the joins on the full NIK and on its
    first 15 digits, within that on its first 12, took 0.07 of the search's 0.57 s)."""
    branches: dict[tuple[str, str, str], set[str]] = {}
    joins: dict[str, list[tuple[tuple[exp.Expression, exp.Expression], tuple]]] = {}
    for rule in blocking_rules:
        equalities = side_equalities(rule, dialect)
        if not equalities:
            return None
        for side in ("l", "r"):  # the existing record on either side
            written = sorted(((f"{e.sql(dialect=dialect)} = {t.sql(dialect=dialect)}", (e, t))
                              for e, t in (_existing_as(eq, side) for eq in equalities)), key=lambda w: w[0])
            joined_on = " AND ".join(text for text, _ in written)
            joins[joined_on] = [(pair, _columns_of(pair)) for _, pair in written]
            on_e, on_t, on_both = _one_sided(_rule_as(rule, side, dialect), dialect)
            branches.setdefault((joined_on, on_e, on_t), set()).add(on_both)
    for branch in sorted(branches):
        into = next((other for other in sorted(branches) if other != branch and _subsumes(other, branch, joins)), None)
        if into is not None:
            own = " AND ".join(condition for condition, theirs in zip(branch[1:], into[1:]) if condition != theirs)
            branches[into] |= {f"({rule}) AND {own}" if own else rule for rule in branches.pop(branch)}
    return branches


def _subsumes(branch: tuple[str, str, str], other: tuple[str, str, str],
              joins: dict[str, list[tuple[tuple[exp.Expression, exp.Expression], tuple]]]) -> bool:
    """Whether `branch`'s join finds every pair `other`'s finds: its one-sided conditions are
    none or `other`'s, and each equality it joins on (`joins`: with the columns of its sides)
    follows from one of `other`'s of the same columns (most pairs of branches differ there, and
    are told apart without rewriting an equality)."""
    return (all(mine in ("", theirs) for mine, theirs in zip(branch[1:], other[1:]))
            and all(any(columns == theirs_columns and _implies(theirs, mine) for theirs, theirs_columns in joins[other[0]])
                    for mine, columns in joins[branch[0]]))


def _columns_of(sides: tuple[exp.Expression, exp.Expression]) -> tuple[frozenset, frozenset]:
    return tuple(frozenset(column.name for column in side.find_all(exp.Column)) for side in sides)


def blocking_pairs_sql(blocking_rules: list[str], dialect: str, existing: str, touched: str,
                       key: str = "record_key", touched_key: str = "record_key",
                       rekeyed: str | None = None, key_columns: tuple[str, ...] = ()) -> str | None:
    """SQL: every pair of a record of `existing` (a table, or a parenthesised query) and one of
    `touched` that some blocking rule lets through, with the existing record on either side, each
    pair once: `existing_key` (its `key`, a column or `rowid` of a stored table) and `touched_key`
    (the touched record's column `touched_key`). A record of both tables (a touched record among
    the stored ones) meets the other touched records both ways round, and itself. Scoring these
    pairs gives what scoring the touched records against all of `existing` gives.

    One branch per distinct set of equalities between the two records (DuckDB joins on them) and
    of conditions on one record alone, holding the rules that share them as one condition: at 1M,
    a night's 3,108 touched records reach 21,208 others through the whole rules against 175,136
    through their equalities alone (a record's lone name against every namesake of any region). A
    condition on one record filters that side before the join: a rule for records without a birth
    date (`l.birth_date IS NULL`) made one branch with the record on either side, whose join of
    namesakes in a regency DuckDB filtered pair by pair (at 1M, a P2MI-only night's partners in
    0.85 s; split by side, 0.58 s). Keys of numbers: that night's 36,542 pairs in 0.59 s, as
    record keys 0.80 s. None when a rule has no such equality: every record is a partner.

    `rekeyed`: a boolean column of `touched` marking the records whose capped blocking keys
    (`key_columns`) alone moved: such a record takes part only in the branches that read a key (a
    rule on its other values lets through last night's pairs), so that its pairs are those a
    moved key can add."""
    branches = _partner_branches(blocking_rules, dialect)
    if branches is None:
        return None
    if rekeyed:
        def reads_a_key(branch: tuple[str, str, str], rules: set[str]) -> bool:
            return any(reads_any(text, key_columns) for text in (*branch, *rules))

        branches = {(joined_on, on_e, on_t if reads_a_key((joined_on, on_e, on_t), rules) else
                     " AND ".join(c for c in (on_t, f"(NOT t.{rekeyed})") if c)): rules
                    for (joined_on, on_e, on_t), rules in branches.items()}
    return " UNION ".join(
        f"SELECT e.{key} AS existing_key, t.{touched_key} AS touched_key FROM {existing} e JOIN "
        + (f"(SELECT * FROM {touched} t WHERE {on_t})" if on_t else touched)
        + f" t ON {joined_on} AND ({' OR '.join(f'({rule})' for rule in sorted(rules))})"
        + (f" WHERE {on_e}" if on_e else "")
        for (joined_on, on_e, on_t), rules in sorted(branches.items())
    )


def partner_search_key(blocking_rules: list[str], dialect: str, *names: str) -> str:
    """What `blocking_pairs_sql(blocking_rules, dialect, *names)` is made from: the rules, the
    names it is given, this file's code and the sqlglot that parses the rules. A search stored
    under this key is the one these would make again."""
    made_by = code_fingerprint([Path(__file__)], ("sqlglot",))
    return hashlib.sha256(json.dumps([blocking_rules, dialect, names, made_by]).encode()).hexdigest()[:16]


def stored_blocking_pairs_sql(blocking_rules: list[str], dialect: str, existing: str, touched: str,
                              key: str, touched_key: str, stored: dict, rekeyed: str | None = None,
                              key_columns: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """`blocking_pairs_sql`, taken from `stored` (a state row's `partner_search_key` and
    `partner_search_sql`) when it was made from the same rules, names and code, and made
    otherwise; with its `partner_search_key`. Making it parses and rewrites every rule with
    sqlglot: at 1M, 0.07 s of an incremental night, the same search every night of a model."""
    names = (existing, touched, key, touched_key) + ((rekeyed, *key_columns) if rekeyed else ())
    search_key = partner_search_key(blocking_rules, dialect, *names)
    if stored.get("partner_search_key") == search_key:
        return search_key, stored.get("partner_search_sql")
    return search_key, blocking_pairs_sql(blocking_rules, dialect, existing, touched, key, touched_key,
                                          rekeyed, key_columns)


def blocked_pairs(records: pl.DataFrame, touched: pl.Series, blocking_rules: list[str],
                  dialect: str = "duckdb") -> pl.DataFrame | None:
    """`blocking_pairs_sql` on records held in memory, as `touched_pairs` gives them: the pairs of
    the `touched` records (record keys) with the others and among themselves that some rule lets
    through (None when a rule has no equality between the two records)."""
    sql = blocking_pairs_sql(blocking_rules, dialect, "records", "fresh")
    if sql is None:
        return None
    found = query_frames(sql, {"records": records, "fresh": records.filter(pl.col("record_key").is_in(touched.implode()))})
    return touched_pairs(found.rename({"existing_key": "existing_record", "touched_key": "touched_record"}))


def prediction_rules(model_json: dict) -> list[str]:
    return [blocking_rule_sql(rule) for rule in model_json["blocking_rules_to_generate_predictions"]]


def reads_any(sql: str, columns: list[str] | tuple[str, ...]) -> bool:
    """Whether the SQL text names any of `columns` (as a whole word)."""
    return bool(columns) and re.search(r"\b(" + "|".join(map(re.escape, columns)) + r")\b", sql) is not None


def rekeyed_pairs(blocked: pl.DataFrame, touched: pl.Series, stored: pl.DataFrame, records_of,
                  rules: list[str], key_columns: list[str] | tuple[str, ...], dialect: str = "duckdb",
                  blocks_only_grew: bool = False) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """What a night does with the records whose capped blocking keys alone moved (REKEYED): their
    values are last night's, so a pair of theirs keeps its score, and is a candidate tonight where
    last night unless a rule that reads a key says otherwise.

    blocked: tonight's pairs (PAIR_KEYS, smaller key left) of the touched (new and changed) records
    and, unless the blocks only grew, of the rekeyed ones, searched through the rules that read a
    key only (`blocking_pairs_sql`'s `rekeyed`); touched: the touched records' keys; stored: last
    night's stored pairs (PAIR_KEYS, match_weight, match_probability) with a rekeyed record and no
    touched or deleted one; records_of: the LINKAGE_COLUMNS of the records of a frame of keys;
    rules: the prediction rules; key_columns: the capped blocking keys.

    Returns (the pairs to score: every pair with a touched record, and the rekeyed records' pairs
    that were not stored; of the latter, those that were not candidates last night are new and
    scored for the first time, the others score as last night and stay unstored below the
    threshold), those pairs of rekeyed records alone, and the stored pairs that no rule lets
    through any more: those the search found through no rule that reads a key and none of the
    other rules lets through (on a night on which blocks only grew: those none of `rules` lets
    through), the rules checked as written on those pairs alone (`pairs_let_through`).

    `blocks_only_grew`: no record left a block tonight (none deleted, none moved out by a change
    of its values: RecordDelta.blocks_left). A block that only grew is split as finely as last
    night or more, never less, and a key that is set tonight was set last night; so two records
    of one part tonight were of one part last night, and a rekeyed record has no pair that was not
    a candidate then. It is not searched (`blocked` holds no pair of rekeyed records alone), none
    of its pairs is scored (at 1M, a night of 13,101 new records and 9,539 rekeyed ones would
    score 66,772 such pairs again, with last night's scores), and its stored pairs are checked
    against every rule (that night: searching the rekeyed records took 0.1 to 0.2 s, and found
    105,613 rows that only served to keep the stored pairs a key rule still lets through)."""
    of_touched = pl.col("record_key_l").is_in(touched.implode()) | pl.col("record_key_r").is_in(touched.implode())
    with_touched, of_rekeyed = blocked.filter(of_touched), blocked.filter(~of_touched)
    if blocks_only_grew:
        unstored, unfound, checked = of_rekeyed.clear(), stored, rules
    else:
        unstored = of_rekeyed.join(stored.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
        unfound = stored.join(of_rekeyed, on=PAIR_KEYS, how="anti")
        checked = [rule for rule in rules if not reads_any(rule, key_columns)]
    lost = unfound
    if unfound.height and checked:
        records = records_of(pl.concat([unfound["record_key_l"], unfound["record_key_r"]]).unique().to_frame("record_key"))
        lost = unfound.join(pairs_let_through(unfound.select(PAIR_KEYS), records, checked, dialect),
                            on=PAIR_KEYS, how="anti")
    return pl.concat([with_touched, unstored]), unstored, lost


def pairs_let_through(pairs: pl.DataFrame, records: pl.DataFrame, blocking_rules: list[str],
                      dialect: str = "duckdb") -> pl.DataFrame:
    """The pairs of `pairs` (PAIR_KEYS) that one of `blocking_rules` (their SQL over records `l`
    and `r`) lets through, either record on the left; records: the pairs' records (record_key and
    the columns the rules read). The rules are read as they are written, on the few pairs given:
    no join finds pairs, and no rule is rewritten (making the partner search's SQL for them took
    0.15 s)."""
    rules = [rule if dialect == "duckdb" else sqlglot.transpile(rule, read=dialect, write="duckdb")[0]
             for rule in blocking_rules]
    either = " OR ".join(f"({rule})" for rule in rules)
    return query_frames(" UNION ".join(
        f"SELECT p.record_key_l, p.record_key_r FROM pairs p JOIN records l ON l.record_key = p.{left} "
        f"JOIN records r ON r.record_key = p.{right} WHERE {either}"
        for left, right in (("record_key_l", "record_key_r"), ("record_key_r", "record_key_l"))),
        {"pairs": pairs, "records": records})


def touched_pairs(found: pl.DataFrame) -> pl.DataFrame:
    """The pairs (record_key_l, record_key_r) of `found` (existing_record, touched_record: what
    `blocking_pairs_sql` found, as record keys) each once, the smaller key left, and no record with
    itself. A pair of two touched records is found both ways round, unless one of them takes part
    in the branches that read a capped key only (`blocking_pairs_sql`'s `rekeyed`): then a rule on
    other values finds it one way only."""
    swap = pl.col("existing_record") > pl.col("touched_record")
    return found.filter(pl.col("existing_record") != pl.col("touched_record")).select(
        pl.when(swap).then(pl.col("touched_record")).otherwise(pl.col("existing_record")).alias("record_key_l"),
        pl.when(swap).then(pl.col("existing_record")).otherwise(pl.col("touched_record")).alias("record_key_r"),
    ).unique()


def score_touched(records: pl.DataFrame, touched: list[str] | pl.Series, model_json: dict,
                  tf_tables: dict[str, pl.DataFrame], threshold: float,
                  backend: LinkageBackend = DUCKDB) -> pl.DataFrame:
    """Incremental night on records held in memory: the pairs of the touched records (new or
    changed) with the others and among themselves that the blocking rules let through
    (`blocked_pairs`, `score_pairs`); scored with Splink's own blocking (`score_fresh`) when a
    rule has no equality to join on."""
    touched = pl.Series("record_key", touched, dtype=pl.String)
    pairs = blocked_pairs(records, touched, prediction_rules(model_json), model_json.get("sql_dialect", "duckdb"))
    if pairs is None:
        is_touched = pl.col("record_key").is_in(touched.implode())
        return score_fresh(records.filter(is_touched), records.filter(~is_touched), model_json, tf_tables,
                           threshold, backend)
    return score_pairs(records, pairs, model_json, tf_tables, threshold, backend)


def score_fresh(fresh: pl.DataFrame, existing: pl.DataFrame, model_json: dict,
                tf_tables: dict[str, pl.DataFrame], threshold: float,
                backend: LinkageBackend = DUCKDB) -> pl.DataFrame:
    """The fresh records (new or changed) against the existing ones and among themselves: one
    `predict_between` of the existing and fresh records (left) with the fresh ones (right), of
    whose fresh-fresh pairs the one with the smaller key left is kept (the pair and orientation
    `predict_within` scores; a record with itself has no smaller key). DuckDB planned each
    call's blocking of 37 rules in 0.2 s: on a P2MI-only 1M night, 0.78 s against 1.07 s for
    `predict_between` and `predict_within`, the same pairs and weights. Used where a blocking rule
    has no equality for the store to find the pairs by (`blocking_pairs_sql` gives None)."""
    if fresh.is_empty():
        return pl.DataFrame()
    # Role tables need an explicit source_dataset column (Splink 5).
    fresh = fresh.with_columns(pl.lit("person_records").alias("source_dataset"))
    existing = existing.with_columns(pl.lit("person_records").alias("source_dataset"))
    frames = {"existing_records": pl.concat([existing, fresh]), "touched_records": fresh}
    with make_db_api(backend) as db_api:
        linker, tables = scoring_linker(frames, model_json, tf_tables, db_api, backend)
        between = linker.inference.predict_between(
            tables["existing_records"], tables["touched_records"], threshold_match_probability=threshold)
        fresh_left = pl.col("record_key_l").is_in(fresh["record_key"].implode())
        return _pairs_frame(between, None, ~fresh_left | (pl.col("record_key_l") < pl.col("record_key_r")))


# The unique id of `score_pairs`' copies of the records: one per pair.
PAIR_ID = "__pair"


def score_pairs(records: pl.DataFrame, pairs: pl.DataFrame, model_json: dict, tf_tables: dict[str, pl.DataFrame],
                threshold: float, backend: LinkageBackend = DUCKDB) -> pl.DataFrame:
    """The pairs (record_key_l, record_key_r, each pair once) of `records` (LINKAGE_COLUMNS)
    scored by the model, kept from `threshold` up: the same scores `score_fresh` gives them,
    without Splink blocking the records again. Each pair's records are copied under the pair's
    number, and Splink's one blocking rule joins the copies on it. On a P2MI-only 1M night,
    whose pairs the store blocked already (`blocking_pairs_sql`), Splink's blocking of the 26,000
    records with its 37 rules took 0.32 s of its 0.8 s."""
    if pairs.is_empty():
        return pl.DataFrame()
    with make_db_api(backend) as db_api:
        return _pairs_frame(predict_pairs(records, pairs, model_json, tf_tables, threshold, db_api, backend), None)


def predict_pairs(records: pl.DataFrame, pairs: pl.DataFrame, model_json: dict, tf_tables: dict[str, pl.DataFrame],
                  threshold: float | None, db_api: DatabaseAPI, backend: LinkageBackend = DUCKDB):
    """Splink's predictions (a SplinkDataFrame on `db_api`, from `threshold` up; None: all) of the
    `pairs` (record_key_l, record_key_r) of `records`, as the model's settings (`model_json`, with
    their `retain_matching_columns`) make them, record_key_l and record_key_r among the columns.
    Each pair's records are copied under the pair's number, and Splink's one blocking rule joins
    the copies on it."""
    numbered = pairs.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(PAIR_ID), *PAIR_KEYS)  # Spark has no UInt32
    sides = {
        name: numbered.select(PAIR_ID, pl.col(column).alias("record_key"))
        .join(records, on="record_key").with_columns(pl.lit("person_records").alias("source_dataset"))
        for name, column in (("left_records", "record_key_l"), ("right_records", "record_key_r"))
    }
    settings = {
        **model_json,
        "unique_id_column_name": PAIR_ID,
        "additional_columns_to_retain": sorted({*model_json.get("additional_columns_to_retain", []), "record_key"}),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": f"l.{PAIR_ID} = r.{PAIR_ID}", "sql_dialect": model_json.get("sql_dialect", "duckdb")}],
    }
    linker, tables = scoring_linker(sides, settings, tf_tables, db_api, backend)
    return linker.inference.predict_between(
        tables["left_records"], tables["right_records"], threshold_match_probability=threshold)


def _with_a_record_of(table: str) -> str:
    """The stored pairs with a record of `table` (registered, record_key) on either side."""
    return f"record_key_l IN (SELECT record_key FROM {table}) OR record_key_r IN (SELECT record_key FROM {table})"


# The stored pairs with a record of `__gone` (registered: changed and deleted records) on either side.
_OF_GONE = _with_a_record_of("__gone")


def stored_pairs_of(con: duckdb.DuckDBPyConnection, rekeyed: pl.Series, gone: pl.Series) -> pl.DataFrame:
    """Last night's stored pairs (PAIR_KEYS, match_weight, match_probability) with a rekeyed record
    and no new, changed or deleted one (`gone`: those pairs go whole): what `rekeyed_pairs` keeps
    or drops."""
    con.register("__rekeyed", pl.DataFrame({"record_key": rekeyed}, schema={"record_key": pl.String}).to_arrow())
    con.register("__gone", pl.DataFrame({"record_key": gone}, schema={"record_key": pl.String}).to_arrow())
    try:
        return con.sql("SELECT record_key_l, record_key_r, match_weight, match_probability FROM linkage.pairs "
                       f"WHERE ({_with_a_record_of('__rekeyed')}) AND NOT ({_OF_GONE})").pl()
    finally:
        con.unregister("__rekeyed")
        con.unregister("__gone")


def dropped_pairs_of(con: duckdb.DuckDBPyConnection, gone: pl.Series, scored: pl.DataFrame,
                     threshold: float) -> pl.DataFrame:
    """`dropped_strong_pairs` of an incremental night, from the stored pairs before they are
    replaced: only a pair with a changed or deleted record (`gone`) can stop joining, since the
    others keep last night's score."""
    con.register("__gone", pl.DataFrame({"record_key": gone}, schema={"record_key": pl.String}).to_arrow())
    try:
        previous = con.sql(f"SELECT * FROM linkage.pairs WHERE ({_OF_GONE}) AND match_probability >= ?",
                           params=[threshold]).pl()
    finally:
        con.unregister("__gone")
    if "match_weight" not in previous.columns:
        previous = previous.with_columns(pl.lit(None, pl.Float64).alias("match_weight"))
    tonight = scored if scored.height else previous.clear()
    return dropped_strong_pairs(previous, tonight, threshold)


def replace_pairs_of(con: duckdb.DuckDBPyConnection, gone: pl.Series, scored: pl.DataFrame,
                     lost: pl.DataFrame | None = None) -> None:
    """The stored pairs where they stand: those with a changed or deleted record (`gone`) deleted,
    and those of `lost` (PAIR_KEYS: `rekeyed_pairs`), tonight's scored pairs inserted (by column
    name)."""
    con.register("__gone", pl.DataFrame({"record_key": gone}, schema={"record_key": pl.String}).to_arrow())
    try:
        con.execute(f"DELETE FROM linkage.pairs WHERE {_OF_GONE}")
    finally:
        con.unregister("__gone")
    if lost is not None and lost.height:
        con.register("__lost", lost.select(PAIR_KEYS).to_arrow())
        try:
            con.execute("DELETE FROM linkage.pairs p USING __lost l "
                        "WHERE p.record_key_l = l.record_key_l AND p.record_key_r = l.record_key_r")
        finally:
            con.unregister("__lost")
    if scored.height:
        insert_rows(con, "linkage.pairs", scored)


def dropped_strong_pairs(previous: pl.DataFrame, tonight: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Pairs that joined two records last night and no longer do, with both weights: the evidence
    behind a split."""
    strong_before = previous.filter(pl.col("match_probability") >= threshold).select(
        *PAIR_KEYS, pl.col("match_weight").alias("previous_match_weight")
    )
    now = tonight.select(*PAIR_KEYS, "match_weight", "match_probability")
    return (
        strong_before.join(now, on=PAIR_KEYS, how="left")
        .filter(pl.col("match_probability").is_null() | (pl.col("match_probability") < threshold))
        .select(*PAIR_KEYS, "previous_match_weight", "match_weight")
    )


# --- trained models ------------------------------------------------------------------------------
_MODEL_NAME = re.compile(r"^model-(?P<rules>[0-9a-f]+)-(?P<trained>\d{8}T\d{6}\d*Z)\.json$")


class ModelStore:
    """`<dir>/model-<rules hash>-<UTC training time>.json` and its term-frequency tables
    (`.tf_<column>.parquet`). Kept for good: a run names the model it used, and an old run can be
    explained from its model."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def latest(self, rules_version: str) -> str | None:
        """The newest model trained with these rules, by id (file stem)."""
        names = sorted(
            m.group(0)[:-5] for p in self.directory.glob(f"model-{rules_version}-*.json")
            if (m := _MODEL_NAME.match(p.name))
        )
        return names[-1] if names else None

    def save(self, rules_version: str, model_json: dict, tf_tables: dict[str, pl.DataFrame],
             trained_at: datetime | None = None) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        trained_at = trained_at or datetime.now(timezone.utc)
        model_id = f"model-{rules_version}-{trained_at.strftime('%Y%m%dT%H%M%S%f')}Z"
        for column, table in tf_tables.items():
            table.write_parquet(self.directory / f"{model_id}.tf_{column}.parquet")
        (self.directory / f"{model_id}.json").write_text(json.dumps(model_json, indent=2, sort_keys=True))
        return model_id

    def path(self, model_id: str) -> Path:
        return self.directory / f"{model_id}.json"

    def load(self, model_id: str) -> tuple[dict, dict[str, pl.DataFrame]]:
        model_json = json.loads(self.path(model_id).read_text())
        tf_tables = {
            column: pl.read_parquet(self.directory / f"{model_id}.tf_{column}.parquet")
            for column in term_frequency_columns(model_json)
        }
        return model_json, tf_tables
