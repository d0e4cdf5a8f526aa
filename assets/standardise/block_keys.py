"""Blocking keys with a size limit: blocks that shrink as the population grows.

A blocking rule such as "same first name word and same birth date" puts every record sharing those
values in one block and compares each pair in it. The values a key can take stay fixed while the
population grows, so its blocks grow with the population and its pairs with the square of it: at
1,000,000 persons the largest such block holds about 150 records, at 7.5 million about a thousand.

A capped key is the rule's values plus as much of the record's region as its block needs: a block
of at most `max_records` records is kept whole; a larger one is split by the next region column
(province, then regency, then district), and so on while a part is still too large. A small
population keeps the plain key; a national one gets regional blocks only where a block is crowded.
Records whose region is unknown at the level their block needs get no key for that rule (they are
left to the rules written for records without a region), nor do records in a part still too large
after the last split: values that common say too little to block on. A key without split columns
is thus the plain value where fewer than `max_records` records share it, and NULL elsewhere.

Keys are 63-bit hashes of the values (DuckDB's 64-bit hash less one bit, to fit a BIGINT, which
every backend has), not the values: they are compared for equality only, and
they carry no name or date in clear. Two keys colliding only add a candidate pair, which the model
then scores like any other.

This is size-constrained blocking in the sense of the record-linkage literature (e.g. Fisher,
Christen, Wang and Rahm, "A clustering-based framework to control block sizes for entity
resolution", KDD 2015), with the region hierarchy as the splitting order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from assets.frames import query_frames


@dataclass(frozen=True)
class CappedKey:
    """`name`: the column it makes; `values`: the columns whose values form a block; `split_by`: SQL
    expressions over the record, coarsest first, that split a block over `max_records`."""

    name: str
    values: tuple[str, ...]
    split_by: tuple[str, ...]
    max_records: int


def parse_capped_keys(section: dict | None) -> list[CappedKey]:
    """The `capped_block_keys` section of the model file: a default `max_records`, and per key its
    `values`, `split_by` and, where it differs, its own `max_records`."""
    if not section:
        return []
    keys = []
    for name, spec in section["keys"].items():
        max_records = int(spec.get("max_records", section["max_records"]))
        if max_records < 2:
            raise ValueError(f"capped_block_keys: max_records of {name} must be at least 2, got {max_records}")
        keys.append(CappedKey(name, tuple(spec["values"]), tuple(spec.get("split_by", ())), max_records))
    return keys


def _levels(key: CappedKey) -> list[tuple[str, list[str]]]:
    """(helper column, its columns) per level: the values, then with each split column added."""
    return [(f"__{key.name}_{i}", list(key.values) + list(key.split_by[:i])) for i in range(len(key.split_by) + 1)]


def _key_case(key: CappedKey) -> str:
    """The key from its levels' hashes and block sizes: the first level whose block fits, else NULL."""
    branches = ["WHEN " + " OR ".join(f"({c}) IS NULL" for c in key.values) + " THEN NULL"]
    for i, (level, _) in enumerate(_levels(key)):
        if i:  # the region this level splits by must be known
            branches.append(f"WHEN ({key.split_by[i - 1]}) IS NULL THEN NULL")
        branches.append(f"WHEN {level}.n <= {key.max_records} THEN (base.{level} >> 1)::BIGINT")
    # Still over the limit when split to the last column: too common to block on.
    return "CASE " + " ".join(branches) + " ELSE NULL END"


def with_capped_keys(keys: list[CappedKey], source: str) -> str:
    """A query of every column of `source` (a table name or a parenthesised query) plus one column
    per key, in no particular row order. Block sizes are counted by a GROUP BY on one hash per
    level, joined back: window counts over the columns themselves took three times as long (28 s
    against 11 s for the nine keys at 1M persons). A split level is counted only among the records
    of the crowded blocks before it, so that only the first level of each key builds a hash table
    over every record (the nine keys at 1M: 3.6 s, against 7.7 s counting every level over all)."""
    if not keys:
        return f"SELECT * FROM {source}"
    levels = [level for key in keys for level in _levels(key)]
    hashed = ", ".join(f"hash({', '.join(columns)}) AS {name}" for name, columns in levels)
    counts = ""
    for key in keys:
        coarser = None
        for name, _ in _levels(key):
            if coarser is None:
                counts += f", {name} AS (SELECT {name} AS h, count(*) AS n FROM base GROUP BY 1)"
            else:  # counted only inside the crowded blocks of the level before, the only ones that reach it
                counts += (f", {name} AS (SELECT base.{name} AS h, count(*) AS n FROM base "
                           f"JOIN {coarser} ON {coarser}.h = base.{coarser} AND {coarser}.n > {key.max_records} "
                           f"GROUP BY 1)")
            coarser = name
    joins = " ".join(f"LEFT JOIN {name} ON {name}.h = base.{name}" for name, _ in levels)
    helpers = ", ".join(name for name, _ in levels)
    added = ", ".join(f"{_key_case(key)} AS {key.name}" for key in keys)
    return (f"WITH base AS MATERIALIZED (SELECT *, {hashed} FROM {source}){counts} "
            f"SELECT base.* EXCLUDE ({helpers}), {added} FROM base {joins}")


def add_capped_keys(records: pl.DataFrame, keys: list[CappedKey]) -> pl.DataFrame:
    """The same keys on records held in memory (tests, tools), in the records' order."""
    return query_frames(f"{with_capped_keys(keys, '__records')} ORDER BY __row",
                        {"__records": records.with_row_index("__row")}).drop("__row")


def _block_of(key: CappedKey) -> str:
    """The hash a record's first level groups by, or NULL where the record gets no key anyway."""
    known = " AND ".join(f"({c}) IS NOT NULL" for c in key.values)
    return f"CASE WHEN {known} THEN hash({', '.join(key.values)}) END"


def touched_blocks(keys: list[CappedKey], table: str, where: str) -> str:
    """A query of the first-level blocks (one column per key, named after it) of the rows of `table`
    that satisfy `where`: the blocks whose counts those rows change by arriving or leaving."""
    if not keys:
        return ""
    return f"SELECT {', '.join(f'{_block_of(key)} AS {key.name}' for key in keys)} FROM {table} WHERE {where}"


def recount_capped_keys(con, table: str, keys: list[CappedKey], touched: str, marks: dict[str, int] | None = None) -> int:
    """Sets the keys of `table` again where they moved, counting only the blocks in `touched` (a
    table as `touched_blocks` gives, of the rows that arrived or left), and on a row whose key
    moved the values of `marks` (column: value) too. A record's key depends only
    on the records of its first-level block (every split level counts inside it), so a block no
    row entered or left keeps every key it had, and a touched block, taken whole, counts as it
    would among all records. (Two blocks whose split-level hashes collide across first-level
    blocks would count together in a full count: some 10^5 touched hashes against 10^7 at a
    million records, under one chance in 10^7 a night at 64 bits.) Returns how many keys moved.

    The rows whose keys moved are deleted and written again with their new keys, not updated
    where they stand: DuckDB's checkpoint rewrites every column an UPDATE touched, whole, and the
    moved rows lie all over the table, while a delete is a mark and an insert appends. At 1M
    persons, on a P2MI-only night (21,549 keys moved in twelve columns), twelve UPDATEs took 0.35 s
    and made the night's checkpoints 0.35 s longer; counting took 0.32 s of that and writing the
    rows again takes 0.11 s, and over eight paired nights the night was 0.3 s shorter (median).
    Each block's records are read as the columns its key counts, its split columns computed once:
    on that night's store, the count took 0.21 to 0.22 s against 0.25 to 0.30 s reading every
    column and computing the split columns in each level's hash, with the same keys moved; in the
    night the whole recount took 0.39 to 0.40 s against 0.40 to 0.42 s (four paired nights)."""
    moved = []
    for key in keys:
        # Of the touched blocks' records, only what the key counts, each value and split column
        # computed once (`__v0`.., `__s0`..), and the stored key, so that only the keys that
        # moved leave the count.
        values = [f"({v}) AS __v{i}" for i, v in enumerate(key.values)]
        splits = [f"({s}) AS __s{i}" for i, s in enumerate(key.split_by)]
        inside = (f"(SELECT {', '.join(values + splits)}, {key.name} AS __stored, rowid AS __row FROM {table} "
                  f"WHERE {_block_of(key)} IN (SELECT {key.name} FROM {touched} WHERE {key.name} IS NOT NULL))")
        local = replace(key, values=tuple(f"__v{i}" for i in range(len(values))),
                        split_by=tuple(f"__s{i}" for i in range(len(splits))))
        moved.append(f"SELECT __row, '{key.name}' AS __key, {key.name} AS __value "
                     f"FROM ({with_capped_keys([local], inside)}) WHERE {key.name} IS DISTINCT FROM __stored")
    count = con.execute("CREATE OR REPLACE TEMP TABLE __moved AS " + " UNION ALL ".join(moved)).fetchone()[0]
    if count:
        joins = " ".join(f"LEFT JOIN __moved m{i} ON m{i}.__row = p.rowid AND m{i}.__key = '{key.name}'"
                         for i, key in enumerate(keys))
        replaced = [f"CASE WHEN m{i}.__row IS NULL THEN p.{key.name} ELSE m{i}.__value END AS {key.name}"
                    for i, key in enumerate(keys)]
        replaced += [f"{value} AS {column}" for column, value in (marks or {}).items()]
        con.execute(f"CREATE OR REPLACE TEMP TABLE __moved_rows AS SELECT p.* REPLACE ({', '.join(replaced)}), "
                    f"p.rowid AS __row FROM {table} p {joins} WHERE p.rowid IN (SELECT __row FROM __moved)")
        con.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT __row FROM __moved_rows)")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (__row) FROM __moved_rows")
        con.execute("DROP TABLE __moved_rows")
    con.execute("DROP TABLE __moved")
    return count
