"""Blocking keys with a size limit: a crowded block is split by region, a small one is kept whole."""

import duckdb
import polars as pl
import pytest

from assets.linkage.rules import load_rules
from assets.standardise.block_keys import CappedKey, add_capped_keys, parse_capped_keys, with_capped_keys

REGIONS = ("left(regency_code, 2)", "regency_code", "district_code")


def first_date(max_records: int) -> CappedKey:
    return CappedKey("block_first_date", ("name_first_key", "birth_date"), REGIONS, max_records)


def keys_of(rows: list[tuple], max_records: int) -> dict[str, int | None]:
    con = duckdb.connect()
    con.execute("""CREATE TABLE records (record_key VARCHAR, name_first_key VARCHAR, birth_date DATE,
        regency_code VARCHAR, district_code VARCHAR)""")
    con.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
    result = con.execute(f"SELECT record_key, block_first_date FROM ({with_capped_keys([first_date(max_records)], 'records')})")
    return {row[0]: row[1] for row in result.fetchall()}


def test_a_block_within_the_limit_keeps_one_key_across_regions():
    keys = keys_of([
        ("a", "SITI", "1980-05-02", "3212", "321201"),
        ("b", "SITI", "1980-05-02", "3301", "330101"),  # another province
        ("c", "SITI", "1980-05-02", None, None),  # no region at all
    ], max_records=3)
    assert keys["a"] == keys["b"] == keys["c"] is not None


def test_a_crowded_block_is_split_by_province_then_regency_then_district():
    rows = [
        ("jabar1", "SITI", "1980-05-02", "3212", "321201"),
        ("jabar2", "SITI", "1980-05-02", "3212", "321202"),
        ("jateng", "SITI", "1980-05-02", "3301", "330101"),
        ("nowhere", "SITI", "1980-05-02", None, None),
        ("other", "SRI", "1980-05-02", "3212", "321201"),
    ]
    # Four SITI records over a limit of 3: split by province. West Java's two fit.
    keys = keys_of(rows, max_records=3)
    assert keys["jabar1"] == keys["jabar2"]
    assert keys["jateng"] not in (None, keys["jabar1"])
    assert keys["nowhere"] is None  # its region is unknown where the block needs one
    assert keys["other"] not in (None, keys["jabar1"], keys["jateng"])
    # Over a limit of 1, West Java's part is split again, by regency (one), then by district.
    keys = keys_of(rows, max_records=1)
    assert keys["jabar1"] != keys["jabar2"]
    assert None not in (keys["jabar1"], keys["jabar2"], keys["jateng"], keys["other"])


def test_a_record_missing_a_blocked_value_gets_no_key():
    keys = keys_of([("a", "SITI", None, "3212", "321201"), ("b", None, "1980-05-02", "3212", "321201")], 40)
    assert keys == {"a": None, "b": None}


def test_the_same_values_give_the_same_key_whatever_else_is_in_the_table():
    # Keys are hashes of the values: an incremental night computes the same key for an unchanged
    # record as the night before, as long as its block is not crowded past the limit.
    alone = keys_of([("a", "SITI", "1980-05-02", "3212", "321201")], 40)
    crowd = keys_of([("a", "SITI", "1980-05-02", "3212", "321201"),
                     ("b", "BUDI", "1971-01-01", "3301", "330101")], 40)
    assert alone["a"] == crowd["a"]


def test_the_model_file_declares_the_keys_its_rules_use():
    rules = load_rules()
    for key in rules.capped_block_keys:
        assert any(f"l.{key.name}" in rule for rule in rules.blocking_rules), key.name


def test_a_key_may_have_its_own_limit_and_none_below_two_is_taken():
    keys = parse_capped_keys({"max_records": 40, "keys": {
        "a": {"values": ["x"]}, "b": {"values": ["y"], "split_by": ["regency_code"], "max_records": 300}}})
    assert [(k.name, k.values, k.split_by, k.max_records) for k in keys] == [
        ("a", ("x",), (), 40), ("b", ("y",), ("regency_code",), 300)]
    with pytest.raises(ValueError, match="max_records of a"):
        parse_capped_keys({"max_records": 1, "keys": {"a": {"values": ["x"]}}})


def test_a_block_still_crowded_after_the_last_split_gets_no_key():
    rows = [(f"r{i}", "SITI", "1970-12-31", "3212", "321201") for i in range(4)] + [
        ("alone", "SITI", "1970-12-31", "3212", "321202")]
    keys = keys_of(rows, max_records=3)
    assert [keys[f"r{i}"] for i in range(4)] == [None] * 4  # four in one district, over 3
    assert keys["alone"] is not None


def test_keys_on_a_frame_in_memory_match_the_sql_and_keep_the_order():
    rows = [("b", "SITI", "1980-05-02", "3212", "321201"), ("a", "SITI", "1980-05-02", "3301", "330101"),
            ("c", "SRI", None, "3212", "321201")]
    frame = pl.DataFrame(rows, schema=["record_key", "name_first_key", "birth_date", "regency_code", "district_code"],
                         orient="row").with_columns(pl.col("birth_date").str.to_date())
    keyed = add_capped_keys(frame, [first_date(1)])
    assert keyed["record_key"].to_list() == ["b", "a", "c"]
    assert dict(zip(keyed["record_key"], keyed["block_first_date"])) == keys_of(rows, max_records=1)


def nights_table(columns: str, rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """A connection with an empty `staging` schema and a table `night` (night INT, `columns`) of `rows`."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute(f"CREATE TABLE night (night INT, {columns})")
    con.executemany(f"INSERT INTO night VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return con


def crowding_nights() -> duckdb.DuckDBPyConnection:
    """Two nights of a two-record limit: on night 2 a third SITI crowds the block, which splits by
    province; c is corrected; b and e are unchanged."""
    return nights_table("record_key VARCHAR, name_first_key VARCHAR, birth_date DATE, regency_code VARCHAR, "
                        "district_code VARCHAR, delivery_date DATE", [
        (1, "a", "SITI", "1980-05-02", "3212", "321201", "2026-11-27"),
        (1, "b", "SITI", "1980-05-02", "3301", "330101", "2026-11-27"),
        (1, "c", "BUDI", "1975-01-01", "3212", "321201", "2026-11-27"),
        (1, "e", "SRI", "1990-07-17", "3212", "321201", "2026-11-27"),
        (2, "a", "SITI", "1980-05-02", "3212", "321201", "2026-11-28"),
        (2, "b", "SITI", "1980-05-02", "3301", "330101", "2026-11-28"),
        (2, "c", "BUDI", "1975-01-02", "3212", "321201", "2026-11-28"),
        (2, "d", "SITI", "1980-05-02", "3213", "321301", "2026-11-28"),
        (2, "e", "SRI", "1990-07-17", "3212", "321201", "2026-11-28"),
    ])


def crowding_night(n: int) -> str:
    """Night `n` of crowding_nights with its content hashes, as staging/person_records passes it."""
    from assets.standardise.assets import CONTENT_HASH

    return (f"SELECT * EXCLUDE (night), 's' AS source, hash(record_key, name_first_key, birth_date, "
            f"regency_code, district_code) AS {CONTENT_HASH} FROM night WHERE night = {n}")


def test_the_common_table_updated_in_place_equals_a_full_build_when_a_block_crowds():
    # assets/standardise/assets.update_person_records on two nights of a two-record limit
    from assets.standardise.assets import update_person_records

    keys = [first_date(2)]
    con = crowding_nights()
    con.execute(f"CREATE TABLE staging.person_records AS {with_capped_keys(keys, f'({crowding_night(1)})')}")
    night1 = dict(con.execute("SELECT record_key, block_first_date FROM staging.person_records").fetchall())
    assert night1["a"] == night1["b"] is not None
    changed = update_person_records(con, crowding_night(2), keys, ["s"])
    assert changed == {"inserted": 2, "deleted": 1, "keys_moved": 4, "compared": 5}  # c and d inserted, c's old row gone
    stored = con.sql("SELECT * FROM staging.person_records ORDER BY record_key").pl()
    full = con.sql(f"SELECT * FROM ({with_capped_keys(keys, f'({crowding_night(2)})')}) ORDER BY record_key").pl()
    assert stored.equals(full.select(stored.columns))
    assert stored["delivery_date"].cast(pl.String).to_list() == ["2026-11-28"] * 5
    night2 = dict(zip(stored["record_key"], stored["block_first_date"]))
    assert night2["a"] == night2["d"] != night1["a"] and night2["b"] != night2["a"]


def test_the_common_table_updated_in_place_equals_a_full_build_over_random_nights():
    # Crowded, split, shrinking and vanishing blocks of three keys (one without split columns),
    # with unknown values, over four nights of rows changed, deleted and added.
    import random

    from assets.standardise.assets import CONTENT_HASH, update_person_records

    keys = [first_date(4), CappedKey("block_date", ("birth_date",), (), 6),
            CappedKey("block_district", ("name_first_key", "district_code"), (), 3)]
    rng = random.Random(7)

    def row(key: str) -> tuple:
        regency = rng.choice(["3212", "3213", "3301", None])
        return (key, rng.choice(["SITI", "SRI", "NUR", None]),
                rng.choice(["1980-05-02", "1981-01-01", "1990-07-17", None]),
                regency, regency and regency + rng.choice(["01", "02"]))

    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    rows = {f"r{i}": row(f"r{i}") for i in range(300)}
    for night in range(1, 5):
        if night > 1:
            for key in rng.sample(sorted(rows), 30):
                del rows[key]
            for key in rng.sample(sorted(rows), 30):
                rows[key] = row(key)
            rows |= {f"n{night}_{i}": row(f"n{night}_{i}") for i in range(30)}
        con.execute("""CREATE OR REPLACE TABLE night (record_key VARCHAR, name_first_key VARCHAR,
            birth_date DATE, regency_code VARCHAR, district_code VARCHAR)""")
        con.executemany("INSERT INTO night VALUES (?, ?, ?, ?, ?)", list(rows.values()))
        hashed = (f"SELECT *, 's' AS source, DATE '2026-11-26' + {night} AS delivery_date, hash(record_key, "
                  f"name_first_key, birth_date, regency_code, district_code) AS {CONTENT_HASH} FROM night")
        full = f"SELECT * FROM ({with_capped_keys(keys, f'({hashed})')}) ORDER BY record_key"
        if night == 1:
            con.execute(f"CREATE TABLE staging.person_records AS {full}")
            continue
        changed = update_person_records(con, hashed, keys, ["s"])
        assert changed["inserted"] >= 30 and changed["deleted"] >= 30
        stored = con.sql("SELECT * FROM staging.person_records ORDER BY record_key").pl()
        expected = con.sql(full).pl()
        assert stored.equals(expected.select(stored.columns)), f"night {night}"
        assert stored["block_first_date"].null_count() < stored.height  # some keys, and
        assert stored["block_date"].null_count() > 0  # some crowded out


def test_only_the_named_sources_records_are_brought_up_to_date_and_the_others_keys_still_move():
    # A night only P2MI delivers: person_records passes only its records; DTSEN's stay as they
    # are, but a DTSEN record whose block a new P2MI record crowds takes its split key.
    from assets.standardise.assets import CONTENT_HASH, update_person_records

    keys = [first_date(2)]
    con = nights_table("source VARCHAR, record_key VARCHAR, name_first_key VARCHAR, birth_date DATE, "
                       "regency_code VARCHAR, district_code VARCHAR", [
        (1, "dtsen", "dtsen:a", "SITI", "1980-05-02", "3212", "321201"),
        (1, "p2mi", "p2mi:b", "SITI", "1980-05-02", "3301", "330101"),
        (1, "p2mi", "p2mi:c", "BUDI", "1975-01-01", "3212", "321201"),
        (2, "dtsen", "dtsen:a", "SITI", "1980-05-02", "3212", "321201"),
        (2, "p2mi", "p2mi:b", "SITI", "1980-05-02", "3301", "330101"),
        (2, "p2mi", "p2mi:d", "SITI", "1980-05-02", "3213", "321301"),  # c gone, d crowds SITI's block
    ])

    def hashed(n: int, sources: tuple[str, ...] = ("dtsen", "p2mi")) -> str:
        # DTSEN delivered on night 1 only
        delivered = f"CASE source WHEN 'dtsen' THEN DATE '2026-11-27' ELSE DATE '2026-11-26' + {n} END"
        return (f"SELECT * EXCLUDE (night), {delivered} AS delivery_date, hash(record_key, "
                f"name_first_key, birth_date, regency_code, district_code) AS {CONTENT_HASH} FROM night "
                f"WHERE night = {n} AND source IN {sources!r}")

    con.execute(f"CREATE TABLE staging.person_records AS {with_capped_keys(keys, f'({hashed(1)})')}")
    before = dict(con.execute("SELECT record_key, block_first_date FROM staging.person_records").fetchall())
    # Tonight's query holds no DTSEN row: "dtsen:a" is kept because DTSEN is not a source named.
    changed = update_person_records(con, hashed(2, ("p2mi", "")), keys, ["p2mi"])
    assert changed == {"inserted": 1, "deleted": 1, "keys_moved": 3, "compared": 2}
    stored = con.sql("SELECT * FROM staging.person_records ORDER BY record_key").pl()
    full = con.sql(f"SELECT * FROM ({with_capped_keys(keys, f'({hashed(2)})')}) ORDER BY record_key").pl()
    assert stored.equals(full.select(stored.columns))
    assert stored.filter(pl.col("record_key") == "dtsen:a")["block_first_date"].item() != before["dtsen:a"]


def test_the_rows_whose_keys_moved_and_only_they_are_marked_written_tonight():
    # linkage/pairs hashes again only the rows written since its last run (REMADE_GEN): a record a
    # newcomer's arrival moves to another block must carry tonight's generation, an untouched one not.
    from assets.standardise.assets import REMADE_GEN, update_person_records

    keys = [first_date(2)]
    con = crowding_nights()
    con.execute(f"CREATE TABLE staging.person_records AS SELECT *, 1::BIGINT AS {REMADE_GEN} "
                f"FROM ({with_capped_keys(keys, f'({crowding_night(1)})')})")
    changed = update_person_records(con, crowding_night(2), keys, ["s"], generation=2)
    assert changed["keys_moved"] == 4  # a and b split by province; c's and d's keys set
    marks = dict(con.execute(f"SELECT record_key, {REMADE_GEN} FROM staging.person_records").fetchall())
    assert marks == {"a": 2, "b": 2, "c": 2, "d": 2, "e": 1}
    stored = con.sql(f"SELECT * EXCLUDE ({REMADE_GEN}) FROM staging.person_records ORDER BY record_key").pl()
    full = con.sql(f"SELECT * FROM ({with_capped_keys(keys, f'({crowding_night(2)})')}) ORDER BY record_key").pl()
    assert stored.equals(full.select(stored.columns))
